package io.engram.state;

import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * Engram's versioned binary state format (see {@code docs/STATE_FORMAT.md}): magic, format version, flags, the
 * model fingerprint and architecture, the position, every tensor's name, dtype, shape and little-endian data, the
 * optional next-token logits, and a CRC-32C over all of it.
 *
 * <p>Encoding is deterministic: the same state always gives the same bytes, so a blob's SHA-256 identifies its
 * content. Decoding checks the magic, the version and the checksum before it parses anything, bounds every length
 * by the bytes actually present (a lying header cannot make it allocate more than the blob's own size), insists on
 * exactly one reading of the bytes (no trailing data, no reserved flag bits), and then, against a model, checks the
 * fingerprint, the architecture, every tensor name and shape (through {@link LanguageModel#stateOf}) and that every
 * value is finite. Nothing reaches a model before all of that has passed.
 */
public final class StateCodec {

    /** {@code \x89ENGRAM\n}: the high byte catches 7-bit transfers, the newline catches newline translation. */
    static final byte[] MAGIC = {(byte) 0x89, 'E', 'N', 'G', 'R', 'A', 'M', '\n'};
    public static final int VERSION = 1;
    public static final String MEDIA_TYPE = "application/octet-stream";

    static final int FLAG_LOGITS = 1;
    static final int DTYPE_F32 = 1;
    static final int MAX_NAME = 256;
    static final int MAX_FINGERPRINT = 256;
    static final int MAX_ARCHITECTURE = 64;
    static final int MAX_RANK = 8;
    static final int MAX_TENSORS = 1 << 16;
    /** magic + version + flags + crc: the smallest prefix and suffix any blob has. */
    static final int FIXED = MAGIC.length + 2 + 2 + 4;

    private static final Pattern ARCH = Pattern.compile("[a-z0-9_-]+");

    private StateCodec() {}

    /** A structurally valid blob, not yet checked against a model. */
    public record Blob(int version, String fingerprint, String architecture, long position, List<StateTensor> tensors,
                       float[] lastLogits, int checksum) {}

    /** A blob checked against a model: a state of that model, and its next-token logits (or null). */
    public record Decoded(Blob blob, ModelState state, float[] lastLogits) {}

    // ------------------------------------------------------------------------------------------------ encode

    public static byte[] encode(String fingerprint, ModelState state, float[] lastLogits) {
        byte[] fp = utf8(fingerprint, "fingerprint", MAX_FINGERPRINT);
        byte[] arch = utf8(state.architecture(), "architecture", MAX_ARCHITECTURE);
        List<StateTensor> tensors = state.tensors();
        if (tensors.isEmpty() || tensors.size() > MAX_TENSORS) {
            throw new IllegalArgumentException("a state needs 1.." + MAX_TENSORS + " tensors, has " + tensors.size());
        }
        List<byte[]> names = new ArrayList<>(tensors.size());
        long size = FIXED + 2L + fp.length + 2L + arch.length + 8 + 4;
        for (StateTensor t : tensors) {
            byte[] n = utf8(t.name(), "tensor name", MAX_NAME);
            if (t.shape().length > MAX_RANK) throw new IllegalArgumentException("tensor " + t.name() + " has rank > " + MAX_RANK);
            names.add(n);
            size += 2L + n.length + 1 + 1 + 4L * t.shape().length + 4L * t.data().length;
        }
        if (lastLogits != null) size += 1 + 4 + 4L * lastLogits.length;
        if (size > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("state too large to encode: " + size + " bytes");

        ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC);
        b.putShort((short) VERSION);
        b.putShort((short) (lastLogits != null ? FLAG_LOGITS : 0));
        putStr(b, fp);
        putStr(b, arch);
        b.putLong(state.position());
        b.putInt(tensors.size());
        for (int i = 0; i < tensors.size(); i++) {
            StateTensor t = tensors.get(i);
            putStr(b, names.get(i));
            b.put((byte) DTYPE_F32);
            b.put((byte) t.shape().length);
            for (int d : t.shape()) b.putInt(d);
            putFloats(b, t.data());
        }
        if (lastLogits != null) {
            b.put((byte) DTYPE_F32);
            b.putInt(lastLogits.length);
            putFloats(b, lastLogits);
        }
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        if (b.hasRemaining()) throw new IllegalStateException("encoder size mismatch");
        return b.array();
    }

    // ------------------------------------------------------------------------------------------------ decode

    /** The checksum stored in a blob's last four bytes (no validation): a cheap version tag for caches. */
    public static int storedChecksum(byte[] blob) {
        if (blob.length < 4) return 0;
        return ByteBuffer.wrap(blob, blob.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /**
     * Checks the envelope (magic, version, checksum) and parses the fields, bounding every length by the blob.
     *
     * @throws StateBlobException when anything is off
     */
    public static Blob parse(byte[] blob) {
        if (blob == null || blob.length < FIXED) {
            throw StateBlobException.corrupt("the blob has " + (blob == null ? 0 : blob.length)
                    + " bytes; an Engram state blob has at least " + FIXED);
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (blob[i] != MAGIC[i]) throw StateBlobException.corrupt("not an Engram state blob (bad magic number)");
        }
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        b.position(MAGIC.length);
        int version = Short.toUnsignedInt(b.getShort());
        if (version != VERSION) {
            throw StateBlobException.corrupt("state format version " + version + " is not supported; this server reads version "
                    + VERSION + (version > VERSION ? " (the blob comes from a newer Engram)" : ""));
        }
        int end = blob.length - 4;
        CRC32C crc = new CRC32C();
        crc.update(blob, 0, end);
        int stored = storedChecksum(blob);
        if ((int) crc.getValue() != stored) {
            throw StateBlobException.corrupt("the blob's checksum does not match its content: it is truncated or corrupted");
        }
        b.limit(end);
        try {
            int flags = Short.toUnsignedInt(b.getShort());
            if ((flags & ~FLAG_LOGITS) != 0) throw StateBlobException.corrupt("unknown flags 0x" + Integer.toHexString(flags));
            String fingerprint = getStr(b, "fingerprint", MAX_FINGERPRINT);
            String arch = getStr(b, "architecture", MAX_ARCHITECTURE);
            if (!ARCH.matcher(arch).matches()) throw StateBlobException.corrupt("bad architecture name");
            long position = b.getLong();
            if (position < 0) throw StateBlobException.corrupt("negative position " + position);
            long count = Integer.toUnsignedLong(b.getInt());
            // every tensor takes at least 2 (name length) + 1 (name) + 1 (dtype) + 1 (rank) bytes
            if (count < 1 || count > MAX_TENSORS || count * 5 > b.remaining()) {
                throw StateBlobException.corrupt("implausible tensor count " + count);
            }
            List<StateTensor> tensors = new ArrayList<>((int) count);
            for (int i = 0; i < count; i++) {
                String name = getStr(b, "tensor " + i + " name", MAX_NAME);
                dtype(b, name);
                int rank = Byte.toUnsignedInt(b.get());
                if (rank > MAX_RANK) throw StateBlobException.corrupt("tensor " + name + " has rank " + rank + " > " + MAX_RANK);
                int[] shape = new int[rank];
                long numel = 1;
                for (int d = 0; d < rank; d++) {
                    long dim = Integer.toUnsignedLong(b.getInt());
                    if (dim > Integer.MAX_VALUE) throw StateBlobException.corrupt("tensor " + name + " has dimension " + dim);
                    shape[d] = (int) dim;
                    numel *= dim;
                    if (numel > b.remaining() / 4) break; // checked just below, before any allocation
                }
                if (numel > b.remaining() / 4) {
                    throw StateBlobException.corrupt("tensor " + name + " " + Arrays.toString(shape)
                            + " needs more bytes than the blob holds");
                }
                tensors.add(new StateTensor(name, shape, getFloats(b, (int) numel)));
            }
            float[] logits = null;
            if ((flags & FLAG_LOGITS) != 0) {
                dtype(b, "last logits");
                long n = Integer.toUnsignedLong(b.getInt());
                if (n != b.remaining() / 4 || b.remaining() % 4 != 0) {
                    throw StateBlobException.corrupt("the last-logits length " + n + " does not match the bytes left");
                }
                logits = getFloats(b, (int) n);
            }
            if (b.hasRemaining()) throw StateBlobException.corrupt(b.remaining() + " unexpected bytes after the last field");
            return new Blob(version, fingerprint, arch, position, List.copyOf(tensors), logits, stored);
        } catch (BufferUnderflowException e) {
            throw StateBlobException.corrupt("the blob ends in the middle of a field (truncated)");
        }
    }

    /**
     * Parses {@code blob} and checks it against {@code model} (whose fingerprint is {@code fingerprint}): the
     * fingerprint, the architecture, each tensor's name and shape, the logits' length, and that all values are finite.
     */
    public static Decoded decode(byte[] blob, String fingerprint, LanguageModel model) {
        return check(parse(blob), fingerprint, model);
    }

    public static Decoded check(Blob p, String fingerprint, LanguageModel model) {
        if (!p.fingerprint().equals(fingerprint)) {
            throw StateBlobException.incompatible("the blob was made by the model with fingerprint " + p.fingerprint()
                    + ", not " + fingerprint);
        }
        if (!p.architecture().equals(model.architecture())) {
            throw StateBlobException.incompatible("the blob holds a " + p.architecture() + " state; the model is "
                    + model.architecture());
        }
        for (StateTensor t : p.tensors()) finite(t.data(), "state tensor " + t.name());
        if (p.lastLogits() != null) {
            if (p.lastLogits().length != model.vocabSize()) {
                throw StateBlobException.incompatible("the blob's last logits have " + p.lastLogits().length
                        + " entries; the model's vocabulary has " + model.vocabSize());
            }
            finite(p.lastLogits(), "the last logits");
        }
        ModelState s;
        try {
            s = model.stateOf(p.tensors(), p.position());
        } catch (IllegalArgumentException e) {
            throw StateBlobException.incompatible("the blob's tensors do not fit the model: " + e.getMessage());
        }
        return new Decoded(p, s, p.lastLogits());
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void finite(float[] a, String what) {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) throw StateBlobException.corrupt(what + " holds a non-finite value at " + i);
        }
    }

    private static void dtype(ByteBuffer b, String what) {
        int dt = Byte.toUnsignedInt(b.get());
        if (dt != DTYPE_F32) throw StateBlobException.corrupt(what + " has dtype code " + dt + "; version 1 knows only 1 (float32)");
    }

    private static byte[] utf8(String s, String what, int max) {
        byte[] out = s.getBytes(StandardCharsets.UTF_8);
        if (out.length == 0 || out.length > max) throw new IllegalArgumentException(what + " must be 1.." + max + " UTF-8 bytes");
        return out;
    }

    private static void putStr(ByteBuffer b, byte[] s) {
        b.putShort((short) s.length);
        b.put(s);
    }

    private static String getStr(ByteBuffer b, String what, int max) {
        int n = Short.toUnsignedInt(b.getShort());
        if (n == 0 || n > max || n > b.remaining()) throw StateBlobException.corrupt(what + " has a bad length " + n);
        byte[] raw = new byte[n];
        b.get(raw);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            throw StateBlobException.corrupt(what + " is not valid UTF-8");
        }
    }

    private static void putFloats(ByteBuffer b, float[] a) {
        b.asFloatBuffer().put(a);
        b.position(b.position() + 4 * a.length);
    }

    private static float[] getFloats(ByteBuffer b, int n) {
        float[] a = new float[n];
        b.asFloatBuffer().get(a);
        b.position(b.position() + 4 * n);
        return a;
    }
}
