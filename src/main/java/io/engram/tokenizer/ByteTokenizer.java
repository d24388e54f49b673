package io.engram.tokenizer;

/**
 * The {@code bytes} tokenizer: token id = byte value (0..255), as used by the small test models (vocab 256).
 * Ids outside 0..255 decode to nothing. Any byte string, valid UTF-8 or not, round-trips exactly.
 *
 * <p>Immutable and thread-safe.
 */
public final class ByteTokenizer implements Tokenizer {

    /** Creates the tokenizer; it has no configuration. */
    public ByteTokenizer() {}

    /** {@inheritDoc} */
    @Override
    public String kind() {
        return "bytes";
    }

    /** {@inheritDoc} */
    @Override
    public int[] encode(String text) {
        return encodeBytes(Utf8.encode(text));
    }

    /** {@inheritDoc} */
    @Override
    public int[] encodeBytes(byte[] utf8) {
        int[] ids = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            ids[i] = utf8[i] & 0xFF;
        }
        return ids;
    }

    /** {@inheritDoc} */
    @Override
    public byte[] decodeBytes(int[] ids) {
        int n = 0;
        for (int id : ids) {
            if (isByte(id)) {
                n++;
            }
        }
        byte[] out = new byte[n];
        int at = 0;
        for (int id : ids) {
            if (isByte(id)) {
                out[at++] = (byte) id;
            }
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public StreamingDecoder newStreamingDecoder() {
        byte[] one = new byte[1];
        return new ByteLevelStreamingDecoder((id, utf8) -> {
            if (!isByte(id)) {
                return "";
            }
            one[0] = (byte) id;
            return utf8.push(one);
        });
    }

    private static boolean isByte(int id) {
        return id >= 0 && id <= 0xFF;
    }
}
