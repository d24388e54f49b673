package io.engram.tokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Parses the RWKV World vocabulary file ({@code rwkv_vocab_v20230424.txt}).
 *
 * <p>Each line is {@code <id> <python literal> <byte length>}. The literal is a str ({@code '..'} or
 * {@code ".."}, UTF-8 encoded) or a bytes literal ({@code b'..'}, raw bytes). The escapes are Python's:
 * {@code \xHH}, backslash-u with 4 hex digits, {@code \UHHHHHHHH} (str only), {@code \n \t \r \\ \' \" \a \b
 * \f \v} and octal {@code \ooo}. In a str literal {@code \xHH} is the code point U+00HH, so
 * {@code '\x80'} is the two bytes C2 80, while in a bytes literal it is one byte. The trailing length must
 * equal the token's byte length. Any violation throws an {@link IOException} naming the file and line.
 */
final class RwkvVocabParser {

    /** Highest id accepted, to keep the id-indexed tables bounded. */
    static final int MAX_ID = 1 << 24;

    /** The parsed vocabulary: token {@code id} is {@code data[offsets[id], offsets[id + 1])}. */
    static final class Vocab {
        final byte[] data;
        final int[] offsets;
        final int maxId;
        final int count;

        Vocab(byte[] data, int[] offsets, int maxId, int count) {
            this.data = data;
            this.offsets = offsets;
            this.maxId = maxId;
            this.count = count;
        }
    }

    private final String source;
    private int lineNumber;

    private RwkvVocabParser(String source) {
        this.source = source;
    }

    static Vocab parse(Path file) throws IOException {
        return parse(Files.readAllBytes(file), file.toString());
    }

    static Vocab parse(byte[] content, String source) throws IOException {
        return new RwkvVocabParser(source).run(content);
    }

    private Vocab run(byte[] content) throws IOException {
        // Tokens go to one growing byte buffer; starts/lengths are indexed by id.
        ByteArrayOutputStream data = new ByteArrayOutputStream(content.length);
        int[] starts = new int[1 << 16];
        int[] lengths = new int[1 << 16];
        Arrays.fill(lengths, -1);
        int maxId = 0;
        int count = 0;
        ByteArrayOutputStream token = new ByteArrayOutputStream(256);

        int pos = 0;
        lineNumber = 0;
        while (pos < content.length) {
            lineNumber++;
            int eol = pos;
            while (eol < content.length && content[eol] != '\n') {
                eol++;
            }
            int next = eol + 1;
            int end = eol;
            if (end > pos && content[end - 1] == '\r') {
                end--;
            }
            if (end > pos) {
                token.reset();
                int id = parseLine(content, pos, end, token);
                if (id >= starts.length) {
                    int size = Math.max(starts.length * 2, id + 1);
                    starts = Arrays.copyOf(starts, size);
                    int old = lengths.length;
                    lengths = Arrays.copyOf(lengths, size);
                    Arrays.fill(lengths, old, size, -1);
                }
                if (lengths[id] >= 0) {
                    throw error("duplicate id " + id);
                }
                starts[id] = data.size();
                lengths[id] = token.size();
                token.writeTo(data);
                maxId = Math.max(maxId, id);
                count++;
            }
            pos = next;
        }
        if (count == 0) {
            throw new IOException(source + ": empty vocabulary");
        }

        // Lay the tokens out by id, so that offsets[id + 1] - offsets[id] is the length (0 for unused ids).
        byte[] raw = data.toByteArray();
        byte[] packed = new byte[raw.length];
        int[] offsets = new int[maxId + 2];
        int at = 0;
        for (int id = 0; id <= maxId; id++) {
            offsets[id] = at;
            if (lengths[id] > 0) {
                System.arraycopy(raw, starts[id], packed, at, lengths[id]);
                at += lengths[id];
            }
        }
        offsets[maxId + 1] = at;
        return new Vocab(packed, offsets, maxId, count);
    }

    /** Parses one non-empty line, appending the token's bytes to {@code out}; returns the id. */
    private int parseLine(byte[] s, int from, int to, ByteArrayOutputStream out) throws IOException {
        int firstSpace = indexOf(s, from, to, (byte) ' ');
        int lastSpace = lastIndexOf(s, from, to, (byte) ' ');
        if (firstSpace < 0 || lastSpace <= firstSpace) {
            throw error("expected '<id> <literal> <byte length>'");
        }
        int id = parseNonNegativeInt(s, from, firstSpace, "id");
        if (id == 0) {
            throw error("id 0 is reserved for the special end-of-text token");
        }
        if (id > MAX_ID) {
            throw error("id " + id + " is larger than " + MAX_ID);
        }
        int declared = parseNonNegativeInt(s, lastSpace + 1, to, "byte length");
        parseLiteral(s, firstSpace + 1, lastSpace, out);
        if (out.size() == 0) {
            throw error("empty token");
        }
        if (out.size() != declared) {
            throw error("literal is " + out.size() + " bytes but the line declares " + declared);
        }
        return id;
    }

    private void parseLiteral(byte[] s, int from, int to, ByteArrayOutputStream out) throws IOException {
        boolean bytes = false;
        int p = from;
        if (p < to && s[p] == 'b') {
            bytes = true;
            p++;
        }
        if (to - p < 2 || (s[p] != '\'' && s[p] != '"') || s[to - 1] != s[p]) {
            throw error("expected a quoted python literal");
        }
        byte quote = s[p];
        p++;
        int end = to - 1;
        while (p < end) {
            int c = s[p] & 0xFF;
            if (c == quote) {
                throw error("unescaped quote inside the literal");
            }
            if (c != '\\') {
                if (bytes && c >= 0x80) {
                    throw error("non-ASCII character in a bytes literal");
                }
                out.write(c); // a str literal's raw characters are already UTF-8 in the file
                p++;
                continue;
            }
            if (p + 1 >= end) {
                throw error("dangling backslash");
            }
            char e = (char) s[p + 1];
            p += 2;
            int value;
            switch (e) {
                case 'n': value = '\n'; break;
                case 't': value = '\t'; break;
                case 'r': value = '\r'; break;
                case '\\': value = '\\'; break;
                case '\'': value = '\''; break;
                case '"': value = '"'; break;
                case 'a': value = 0x07; break;
                case 'b': value = 0x08; break;
                case 'f': value = 0x0C; break;
                case 'v': value = 0x0B; break;
                case 'x':
                    value = parseHex(s, p, end, 2);
                    p += 2;
                    break;
                case 'u':
                case 'U':
                    if (bytes) {
                        throw error("\\" + e + " escape in a bytes literal");
                    }
                    int digits = e == 'u' ? 4 : 8;
                    value = parseHex(s, p, end, digits);
                    p += digits;
                    if (value <= 0xFFFF && Character.isHighSurrogate((char) value)
                            && p + 6 <= end && s[p] == '\\' && s[p + 1] == 'u') {
                        int low = parseHex(s, p + 2, end, 4);
                        if (Character.isLowSurrogate((char) low)) {
                            value = Character.toCodePoint((char) value, (char) low);
                            p += 6;
                        }
                    }
                    if (value > Character.MAX_CODE_POINT
                            || (value >= Character.MIN_SURROGATE && value <= Character.MAX_SURROGATE)) {
                        throw error("escape \\" + e + " is not a valid code point: " + Integer.toHexString(value));
                    }
                    break;
                default:
                    if (e >= '0' && e <= '7') {
                        value = e - '0';
                        for (int k = 0; k < 2 && p < end && s[p] >= '0' && s[p] <= '7'; k++) {
                            value = value * 8 + (s[p] - '0');
                            p++;
                        }
                        break;
                    }
                    throw error("unsupported escape \\" + e);
            }
            if (bytes) {
                if (value > 0xFF) {
                    throw error("byte value out of range in a bytes literal");
                }
                out.write(value);
            } else {
                writeUtf8(value, out);
            }
        }
    }

    private static void writeUtf8(int cp, ByteArrayOutputStream out) {
        if (cp < 0x80) {
            out.write(cp);
        } else if (cp < 0x800) {
            out.write(0xC0 | (cp >> 6));
            out.write(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out.write(0xE0 | (cp >> 12));
            out.write(0x80 | ((cp >> 6) & 0x3F));
            out.write(0x80 | (cp & 0x3F));
        } else {
            out.write(0xF0 | (cp >> 18));
            out.write(0x80 | ((cp >> 12) & 0x3F));
            out.write(0x80 | ((cp >> 6) & 0x3F));
            out.write(0x80 | (cp & 0x3F));
        }
    }

    private int parseHex(byte[] s, int from, int end, int digits) throws IOException {
        if (from + digits > end) {
            throw error("truncated hex escape");
        }
        int v = 0;
        for (int i = from; i < from + digits; i++) {
            int d = Character.digit((char) s[i], 16);
            if (d < 0) {
                throw error("bad hex digit '" + (char) s[i] + "' in escape");
            }
            v = (v << 4) | d;
        }
        return v;
    }

    private int parseNonNegativeInt(byte[] s, int from, int to, String what) throws IOException {
        if (from >= to || to - from > 9) {
            throw error("bad " + what + " '" + new String(s, from, to - from, StandardCharsets.UTF_8) + "'");
        }
        int v = 0;
        for (int i = from; i < to; i++) {
            if (s[i] < '0' || s[i] > '9') {
                throw error("bad " + what + " '" + new String(s, from, to - from, StandardCharsets.UTF_8) + "'");
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    }

    private static int indexOf(byte[] s, int from, int to, byte b) {
        for (int i = from; i < to; i++) {
            if (s[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static int lastIndexOf(byte[] s, int from, int to, byte b) {
        for (int i = to - 1; i >= from; i--) {
            if (s[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private IOException error(String message) {
        return new IOException(source + ": line " + lineNumber + ": " + message);
    }
}
