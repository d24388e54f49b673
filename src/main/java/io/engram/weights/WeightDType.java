package io.engram.weights;

/**
 * Element types a checkpoint tensor may have. The names are the safetensors dtype strings ({@code "F32"},
 * {@code "BF16"}, ...); all values are stored little-endian.
 */
public enum WeightDType {
    F64(8, true),
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    /** One byte per element, 0 or 1. */
    BOOL(1, false);

    private final int byteSize;
    private final boolean floatingPoint;

    WeightDType(int byteSize, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for F64, F32, F16 and BF16. */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The dtype for a safetensors dtype string such as {@code "F32"}; throws CheckpointException if unsupported. */
    public static WeightDType fromSafetensors(String s) {
        if (s != null) {
            for (WeightDType t : values()) {
                if (t.name().equals(s)) {
                    return t;
                }
            }
        }
        throw new CheckpointException("unsupported safetensors dtype '" + s + "'");
    }

    /** The safetensors dtype string, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return name();
    }
}
