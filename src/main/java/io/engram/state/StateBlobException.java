package io.engram.state;

/**
 * A state blob that cannot be decoded. {@link #incompatible()} tells a well-formed blob that does not fit the
 * model (another model's fingerprint, architecture, tensor names or shapes) from a malformed one (bad magic, an
 * unsupported format version, a failed checksum, a truncated or over-long body, non-finite values).
 */
public class StateBlobException extends RuntimeException {

    private final boolean incompatible;

    public StateBlobException(String message, boolean incompatible) {
        super(message);
        this.incompatible = incompatible;
    }

    static StateBlobException corrupt(String message) {
        return new StateBlobException(message, false);
    }

    static StateBlobException incompatible(String message) {
        return new StateBlobException(message, true);
    }

    public boolean incompatible() {
        return incompatible;
    }
}
