package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The vocabulary file format, on small hand-written vocabularies. */
class RwkvVocabParserTest {

    @TempDir
    Path dir;

    /** Lines 1..256: the single bytes, written as bytes literals the way the real file writes them. */
    private static List<String> singleBytes() {
        List<String> lines = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            lines.add((b + 1) + " b'\\x" + String.format("%02x", b) + "' 1");
        }
        return lines;
    }

    private RwkvWorldTokenizer load(List<String> lines, String separator) throws IOException {
        Path file = dir.resolve("vocab.txt");
        Files.write(file, (String.join(separator, lines) + separator).getBytes(StandardCharsets.UTF_8));
        return RwkvWorldTokenizer.load(file);
    }

    private RwkvWorldTokenizer load(String... extra) throws IOException {
        List<String> lines = singleBytes();
        lines.addAll(List.of(extra));
        return load(lines, "\n");
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    @Test
    void declaredLengthMismatchNamesTheLine() {
        assertThatThrownBy(() -> load("257 'ab' 2", "258 'abc' 4"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("line 258")
                .hasMessageContaining("3 bytes")
                .hasMessageContaining("declares 4");
    }

    @Test
    void strAndBytesLiteralsWithEveryEscape() throws IOException {
        RwkvWorldTokenizer t = load(
                "257 '\\x80' 2",            // str: U+0080 -> C2 80
                "258 b'\\x80\\xff' 2",      // bytes: raw
                "259 'é' 2",                // raw UTF-8 in the file
                "260 '\\u00e9\\u4e2d' 5",
                "261 '\\U0001f600' 4",
                "262 '\\n\\t\\r\\\\\\'' 5",
                "263 \"'\\\"\" 2",          // double-quoted literal holding ' and \"
                "264 '\\0\\a\\b\\f\\v' 5",
                "265 b'\\101\\x42' 2",      // octal
                "266 '\\ud83d\\ude01' 4");  // an escaped surrogate pair is one character
        assertThat(hex(t.decodeBytes(new int[] {257}))).isEqualTo("c280");
        assertThat(hex(t.decodeBytes(new int[] {258}))).isEqualTo("80ff");
        assertThat(hex(t.decodeBytes(new int[] {259}))).isEqualTo("c3a9");
        assertThat(hex(t.decodeBytes(new int[] {260}))).isEqualTo("c3a9e4b8ad");
        assertThat(hex(t.decodeBytes(new int[] {261}))).isEqualTo("f09f9880");
        assertThat(t.decode(new int[] {262})).isEqualTo("\n\t\r\\'");
        assertThat(t.decode(new int[] {263})).isEqualTo("'\"");
        assertThat(hex(t.decodeBytes(new int[] {264}))).isEqualTo("0007080c0b");
        assertThat(t.decode(new int[] {265})).isEqualTo("AB");
        assertThat(t.decode(new int[] {266})).isEqualTo("😁");
        assertThat(t.maxTokenId()).isEqualTo(266);
    }

    @Test
    void crlfLineEndingsAreAccepted() throws IOException {
        List<String> lines = singleBytes();
        lines.add("257 'hello' 5");
        RwkvWorldTokenizer t = load(lines, "\r\n");
        assertThat(t.encode("hello")).containsExactly(257);
    }

    @Test
    void greedyMatchKeepsTheLastNodeThatCarriesAToken() throws IOException {
        // "abc" is only a path to "abcd", not a token: "abcx" must be "ab" + "c" + "x".
        RwkvWorldTokenizer t = load("257 'ab' 2", "258 'abcd' 4");
        assertThat(t.encode("abcx")).containsExactly(257, 'c' + 1, 'x' + 1);
        assertThat(t.encode("abcdab")).containsExactly(258, 257);
        assertThat(t.encode("a")).containsExactly('a' + 1);
    }

    @Test
    void malformedLinesNameTheirLine() {
        String[][] cases = {
            {"257 'ab 2", "quoted"},
            {"257 'a\\qb' 3", "unsupported escape"},
            {"257 'a\\x4' 2", "hex"},
            {"257 'ab'", "expected"},
            {"x57 'ab' 2", "bad id"},
            {"257 'ab' two", "bad byte length"},
            {"257 'a'b' 3", "unescaped quote"},
            {"257 b'é' 2", "non-ASCII"},
            {"257 b'\\u00e9' 2", "bytes literal"},
            {"257 '' 0", "empty token"},
            {"257 '\\ud800' 3", "code point"},
            {"0 'ab' 2", "id 0"},
        };
        for (String[] c : cases) {
            assertThatThrownBy(() -> load(c[0]))
                    .as(c[0])
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("line 257")
                    .hasMessageContaining(c[1]);
        }
    }

    @Test
    void duplicateIdIsRejected() {
        assertThatThrownBy(() -> load("257 'ab' 2", "257 'cd' 2"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("line 258")
                .hasMessageContaining("duplicate id 257");
    }

    @Test
    void duplicateBytesAreRejected() {
        assertThatThrownBy(() -> load("257 'ab' 2", "258 b'ab' 2"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("257")
                .hasMessageContaining("258")
                .hasMessageContaining("same bytes");
    }

    @Test
    void everySingleByteMustHaveAToken() {
        List<String> lines = singleBytes();
        lines.remove(0xE9); // byte 0xE9, id 0xEA
        assertThatThrownBy(() -> load(lines, "\n"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("0xe9");
    }

    @Test
    void unusedIdsDecodeToNothing() throws IOException {
        RwkvWorldTokenizer t = load("300 'xyz' 3");
        assertThat(t.maxTokenId()).isEqualTo(300);
        assertThat(t.decodeBytes(new int[] {257, 299, 300, 301, 0, -5})).isEqualTo("xyz".getBytes(StandardCharsets.UTF_8));
        assertThat(t.encode("xyzx")).containsExactly(300, 'x' + 1);
    }
}
