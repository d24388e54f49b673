package io.engram.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Incremental UTF-8 decoder: bytes go in as they arrive, complete text comes out, and a character split
 * across two pushes is held back until its last byte arrives.
 *
 * <p>Malformed input becomes U+FFFD exactly as {@code new String(bytes, UTF_8)} would replace it, so for any
 * split of a byte array into pushes, the concatenated outputs of {@link #push} followed by {@link #flush()}
 * equal {@code new String(allBytes, UTF_8)}. To guarantee this the decoder holds back only a trailing
 * sequence that the JDK decoder itself would still treat as possibly incomplete, and decodes everything
 * before it with the JDK decoder.
 *
 * <p>Not thread-safe.
 */
public final class Utf8StreamDecoder {

    /** At most 3 bytes of an incomplete character are ever held back. */
    private final byte[] pending = new byte[3];
    private int pendingLength;

    /**
     * Adds bytes.
     *
     * @param bytes the next bytes of the stream
     * @return the text completed by these bytes, possibly empty
     */
    public String push(byte[] bytes) {
        return push(bytes, 0, bytes.length);
    }

    /**
     * Adds {@code length} bytes of {@code bytes} starting at {@code offset}.
     *
     * @param bytes the array holding the next bytes of the stream
     * @param offset where they start
     * @param length how many there are
     * @return the text completed by these bytes, possibly empty
     */
    public String push(byte[] bytes, int offset, int length) {
        if (length == 0) {
            return "";
        }
        byte[] buf = bytes;
        int start = offset;
        int end = offset + length;
        if (pendingLength > 0) {
            buf = Arrays.copyOf(pending, pendingLength + length);
            System.arraycopy(bytes, offset, buf, pendingLength, length);
            start = 0;
            end = buf.length;
        }
        int held = incompleteTailLength(buf, start, end);
        int settledEnd = end - held;
        System.arraycopy(buf, settledEnd, pending, 0, held);
        pendingLength = held;
        return settledEnd == start ? "" : new String(buf, start, settledEnd - start, StandardCharsets.UTF_8);
    }

    /**
     * Ends the stream, emitting any held-back incomplete character as U+FFFD, and resets the decoder.
     *
     * @return the remaining text, possibly empty
     */
    public String flush() {
        if (pendingLength == 0) {
            return "";
        }
        String s = new String(pending, 0, pendingLength, StandardCharsets.UTF_8);
        pendingLength = 0;
        return s;
    }

    /** Whether bytes are held back waiting for the rest of a character. */
    public boolean hasPending() {
        return pendingLength > 0;
    }

    /**
     * The length of the trailing bytes of {@code buf[start, end)} that begin a multi-byte character which more
     * bytes could still complete, or 0 when the tail is complete or already known to be malformed.
     *
     * <p>The rules mirror the JDK's UTF-8 decoder, which decides "malformed" as soon as the second (or third)
     * byte rules the sequence out, and otherwise waits for more input. Note that the JDK waits after
     * {@code ED A0..BF} (which can only become an encoded surrogate) and then replaces all three bytes with a
     * single U+FFFD, so that prefix must be held back too.
     */
    static int incompleteTailLength(byte[] buf, int start, int end) {
        int available = Math.min(3, end - start);
        for (int k = 1; k <= available; k++) {
            int b1 = buf[end - k] & 0xFF;
            if ((b1 & 0xC0) == 0x80) {
                continue; // a continuation byte: the lead is further back
            }
            int needed = sequenceLength(b1);
            if (needed <= k) {
                return 0; // ASCII, an invalid lead byte, or a lead whose sequence is already complete
            }
            if (k >= 2 && isMalformedSecond(b1, buf[end - k + 1] & 0xFF)) {
                return 0;
            }
            if (k >= 3 && (buf[end - k + 2] & 0xC0) != 0x80) {
                return 0;
            }
            return k;
        }
        return 0;
    }

    /** Number of bytes of the sequence a lead byte starts; 0 for bytes that cannot start a sequence. */
    private static int sequenceLength(int b1) {
        if (b1 < 0x80) {
            return 1;
        }
        if (b1 >= 0xC2 && b1 <= 0xDF) {
            return 2;
        }
        if (b1 >= 0xE0 && b1 <= 0xEF) {
            return 3;
        }
        if (b1 >= 0xF0 && b1 <= 0xF4) {
            return 4;
        }
        return 0;
    }

    /** Whether the second byte already makes the sequence malformed, the way the JDK decoder judges it. */
    private static boolean isMalformedSecond(int b1, int b2) {
        if ((b2 & 0xC0) != 0x80) {
            return true;
        }
        if (b1 == 0xE0) {
            return b2 < 0xA0; // overlong
        }
        if (b1 == 0xF0) {
            return b2 < 0x90; // overlong
        }
        if (b1 == 0xF4) {
            return b2 > 0x8F; // above U+10FFFF
        }
        return false;
    }
}
