package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The RWKV World tokenizer against the oracle vectors, an independent greedy matcher, and round trips. */
class RwkvWorldTokenizerTest {

    private final RwkvWorldTokenizer tok = TestSupport.rwkv();

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static int[] ids(JsonNode array) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = array.get(i).asInt();
        }
        return ids;
    }

    @TestFactory
    Stream<DynamicTest> oracleVectors() throws IOException {
        JsonNode root = JsonMapper.builder().build()
                .readTree(Files.readString(TestSupport.sharedDir().resolve("oracle/tokenizer_vectors.json")));
        JsonNode cases = root.get("cases");
        assertEquals(10, cases.size(), "tokenizer_vectors.json should hold 10 cases");
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            JsonNode c = cases.get(i);
            int[] want = ids(c.get("ids"));
            if (c.has("text")) {
                String text = c.get("text").asString();
                byte[] bytes = HexFormat.of().parseHex(c.get("utf8_hex").asString());
                tests.add(DynamicTest.dynamicTest("case " + i + " text " + text.replace("\n", "\\n"), () -> {
                    assertArrayEquals(bytes, utf8(text), "utf8_hex");
                    assertArrayEquals(want, tok.encode(text), "encode(text)");
                    assertArrayEquals(want, tok.encodeBytes(bytes), "encodeBytes");
                    assertArrayEquals(bytes, tok.decodeBytes(want), "decodeBytes");
                    assertEquals(text, tok.decode(want), "decode");
                }));
            } else {
                byte[] bytes = HexFormat.of().parseHex(c.get("bytes_hex").asString());
                tests.add(DynamicTest.dynamicTest("case " + i + " bytes " + c.get("bytes_hex").asString(), () -> {
                    assertArrayEquals(want, tok.encodeBytes(bytes), "encodeBytes");
                    assertArrayEquals(bytes, tok.decodeBytes(want), "decodeBytes");
                    assertEquals(new String(bytes, StandardCharsets.UTF_8), tok.decode(want), "decode");
                }));
            }
        }
        return tests.stream();
    }

    @Test
    void hello() {
        assertThat(tok.encode("Hello")).containsExactly(33155);
        assertThat(tok.decode(new int[] {33155})).isEqualTo("Hello");
        assertThat(tok.kind()).isEqualTo("rwkv-world");
    }

    @Test
    void vocabularyShape() {
        assertThat(tok.maxTokenId()).isEqualTo(65529);
        for (int b = 0; b < 256; b++) {
            assertThat(tok.encodeBytes(new byte[] {(byte) b})).containsExactly(b + 1);
        }
        assertThat(tok.decodeBytes(new int[] {129})).containsExactly(0x80);          // b'\x80'
        assertThat(tok.decodeBytes(new int[] {9804})).isEqualTo(utf8("\u2002"));     // '\u2002'
        assertThat(tok.decode(new int[] {65529})).isEqualTo(" ".repeat(128));        // the longest token
        assertThat(tok.encode(" ".repeat(128))).containsExactly(65529);
    }

    @Test
    void idsWithoutBytesDecodeToNothing() {
        assertThat(tok.decodeBytes(new int[] {0, -1, 65530, 65535, Integer.MAX_VALUE, Integer.MIN_VALUE})).isEmpty();
        assertThat(tok.decode(new int[] {0, 33155, 0, 65531})).isEqualTo("Hello");
        assertThat(tok.decode(new int[0])).isEmpty();
    }

    /**
     * An independent greedy matcher: at each position, tries every length from the longest down. It shares
     * only the vocabulary (read through decodeBytes) with the tokenizer under test, not the trie.
     */
    private static final class NaiveGreedy {
        private final Map<String, Integer> byBytes = new HashMap<>();
        private int longest;

        NaiveGreedy(RwkvWorldTokenizer t) {
            for (int id = 1; id <= t.maxTokenId(); id++) {
                byte[] b = t.decodeBytes(new int[] {id});
                byBytes.put(new String(b, StandardCharsets.ISO_8859_1), id);
                longest = Math.max(longest, b.length);
            }
        }

        int[] encode(byte[] bytes) {
            String s = new String(bytes, StandardCharsets.ISO_8859_1);
            List<Integer> out = new ArrayList<>();
            int pos = 0;
            while (pos < s.length()) {
                for (int len = Math.min(longest, s.length() - pos); len > 0; len--) {
                    Integer id = byBytes.get(s.substring(pos, pos + len));
                    if (id != null) {
                        out.add(id);
                        pos += len;
                        break;
                    }
                }
            }
            return out.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void trieAgreesWithNaiveGreedyMatching() {
        NaiveGreedy naive = new NaiveGreedy(tok);
        Random random = new Random(2024);
        for (int i = 0; i < 300; i++) {
            byte[] bytes = switch (i % 3) {
                case 0 -> utf8(TestSupport.randomMixedText(random, 40));
                case 1 -> utf8(TestSupport.randomCodePoints(random, 30));
                default -> TestSupport.randomBytes(random, 60);
            };
            assertArrayEquals(naive.encode(bytes), tok.encodeBytes(bytes), HexFormat.of().formatHex(bytes));
        }
    }

    @Test
    void roundTripsOfAssortedScripts() {
        String[] texts = {
            "👨‍👩‍👧‍👦 family, 👩🏽‍💻 coder, 🏳️‍🌈 flag, 🇯🇵🇫🇷 flags, 👍🏿",
            "日本語のテキストと中文的文本，한국어 텍스트",
            "Ελληνικά, русский, עברית, العربية, हिन्दी, ไทย, ქართული",
            "e\u0301 vs é, A\u030A, Z\u0351\u0352\u0353 combining",
            "𝄞 𝕏 𠀀 𪛖 \uD83E\uDD80 supplementary planes",
            "\u0000\u0001\u007F\u0080\u00A0\u2028\u2029\uFEFF\uFFFD\uFFFF controls and specials",
            "mixed: Hello 世界 🌍! naïve café — “quotes” ‘single’ … ½ ∞ ≠",
            "",
        };
        for (String text : texts) {
            int[] ids = tok.encode(text);
            assertThat(tok.decode(ids)).isEqualTo(text);
            assertThat(tok.encodeBytes(utf8(text))).isEqualTo(ids);
            assertThat(ids).doesNotContain(0);
        }
    }

    @Test
    void roundTripsOfRandomCodePointsOverTheWholeUnicodeRange() {
        Random random = new Random(123456789L);
        for (int i = 0; i < 500; i++) {
            String text = TestSupport.randomCodePoints(random, random.nextInt(120));
            int[] ids = tok.encode(text);
            assertThat(ids).doesNotContain(0);
            assertThat(tok.decode(ids)).isEqualTo(text);
        }
    }

    @Test
    void arbitraryBytesIncludingInvalidUtf8RoundTripExactly() {
        String[] invalid = {"80", "bf", "ff", "fe", "c0af", "e282", "e28241", "f09f98", "eda080", "edbfbf",
            "f4908080", "f8888080", "41ff42c3", "fffe41", "c3"};
        for (String h : invalid) {
            byte[] b = HexFormat.of().parseHex(h);
            assertThat(tok.decodeBytes(tok.encodeBytes(b))).as(h).isEqualTo(b);
        }
        Random random = new Random(99);
        for (int i = 0; i < 2000; i++) {
            byte[] b = TestSupport.randomBytes(random, random.nextInt(64));
            int[] ids = tok.encodeBytes(b);
            assertThat(ids).doesNotContain(0);
            assertThat(tok.decodeBytes(ids)).isEqualTo(b);
        }
    }

    @Test
    void loneSurrogatesEncodeAsReplacementCharacter() {
        String[] texts = {"a\uD800b", "\uDC00start", "end\uD83D", "\uDE00\uD83D", "ok \uD83D\uDE00 pair"};
        String[] expected = {"a\uFFFDb", "\uFFFDstart", "end\uFFFD", "\uFFFD\uFFFD", "ok \uD83D\uDE00 pair"};
        for (int i = 0; i < texts.length; i++) {
            int[] ids = tok.encode(texts[i]);
            assertThat(tok.decode(ids)).isEqualTo(expected[i]);
            assertThat(ids).isEqualTo(tok.encode(expected[i]));
        }
    }

    @Test
    void streamingEqualsWholeDecodeForRandomTexts() {
        Random random = new Random(5);
        for (int i = 0; i < 300; i++) {
            int[] ids = i % 2 == 0
                    ? tok.encode(TestSupport.randomMixedText(random, 30))
                    : tok.encodeBytes(TestSupport.randomBytes(random, 40));
            if (i % 5 == 0) {
                ids = withSpecialIds(ids, random);
            }
            StreamingDecoder d = tok.newStreamingDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(d.push(id));
            }
            sb.append(d.flush());
            assertThat(sb.toString()).isEqualTo(tok.decode(ids));
        }
    }

    private static int[] withSpecialIds(int[] ids, Random random) {
        int[] out = new int[ids.length * 2];
        int n = 0;
        for (int id : ids) {
            if (random.nextInt(4) == 0) {
                out[n++] = random.nextBoolean() ? 0 : 65533;
            }
            out[n++] = id;
        }
        return Arrays.copyOf(out, n);
    }

    @Test
    void streamingHoldsBackATokenThatEndsInsideACharacter() {
        StreamingDecoder d = tok.newStreamingDecoder();
        // "é" = C3 A9 as two single-byte tokens.
        assertThat(d.push(0xC3 + 1)).isEmpty();
        assertThat(d.push(0)).isEmpty(); // a special id between the two bytes changes nothing
        assertThat(d.push(0xA9 + 1)).isEqualTo("é");
        // "😀" = F0 9F 98 80 as four single-byte tokens.
        assertThat(d.push(0xF0 + 1)).isEmpty();
        assertThat(d.push(0x9F + 1)).isEmpty();
        assertThat(d.push(0x98 + 1)).isEmpty();
        assertThat(d.push(0x80 + 1)).isEqualTo("😀");
        assertThat(d.push(33155)).isEqualTo("Hello");
        // An incomplete character at the end becomes U+FFFD on flush.
        assertThat(d.push(0xE2 + 1)).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void streamingMultiByteTokensSplittingCharacters() {
        // Find real vocabulary tokens that are an incomplete UTF-8 prefix, e.g. the first 2 bytes of a CJK char.
        String text = "日本語のテキスト";
        byte[] bytes = utf8(text);
        int[] partial = tok.encodeBytes(new byte[] {bytes[0], bytes[1]});
        int[] rest = tok.encodeBytes(Arrays.copyOfRange(bytes, 2, bytes.length));
        StreamingDecoder d = tok.newStreamingDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : partial) {
            assertThat(d.push(id)).isEmpty();
        }
        for (int id : rest) {
            sb.append(d.push(id));
        }
        assertThat(sb.append(d.flush()).toString()).isEqualTo(text);
    }

    @Test
    void loadsAndEncodesFastEnough() throws IOException {
        long t0 = System.nanoTime();
        RwkvWorldTokenizer fresh = RwkvWorldTokenizer.load(TestSupport.vocabFile());
        long loadNanos = System.nanoTime() - t0;

        Random random = new Random(1);
        String[] words = ("the of and to in is that for it as was with be by on not he this are or his from at which "
                + "but have an they you were her she there been one all we their has would when if so no will more "
                + "tokenization, performance; recurrent models! (1234) \"quoted\" text.\n").split(" ");
        StringBuilder sb = new StringBuilder(1 << 20);
        while (sb.length() < 1 << 20) {
            sb.append(words[random.nextInt(words.length)]).append(' ');
        }
        String text = sb.toString();
        long best = Long.MAX_VALUE;
        int[] ids = null;
        for (int i = 0; i < 5; i++) {
            long t1 = System.nanoTime();
            ids = fresh.encode(text);
            best = Math.min(best, System.nanoTime() - t1);
        }
        System.out.printf("RWKV vocab load: %.1f ms; encode 1 MiB English: %.1f ms best of 5 (%d tokens)%n",
                loadNanos / 1e6, best / 1e6, ids.length);
        assertThat(fresh.decode(ids)).isEqualTo(text);
        assertThat(loadNanos).as("vocab load time").isLessThan(3_000_000_000L);
        assertThat(best).as("1 MiB encode time").isLessThan(3_000_000_000L);
    }
}
