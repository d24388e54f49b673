package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hugging Face tokenizer through DJL's native library, on two tiny hand-written {@code tokenizer.json}
 * files: a WordLevel model whose post-processor would add a [CLS] token, and a byte-level BPE.
 */
class HfTokenizerTest {

    @TempDir
    static Path dir;

    static HfTokenizer words;
    static HfTokenizer bpe;

    static final String WORD_LEVEL_JSON = """
            {
              "version": "1.0",
              "truncation": null,
              "padding": null,
              "added_tokens": [
                {"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true},
                {"id": 1, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true}
              ],
              "normalizer": null,
              "pre_tokenizer": {"type": "Whitespace"},
              "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]}}
              },
              "decoder": null,
              "model": {
                "type": "WordLevel",
                "vocab": {"[UNK]": 0, "[CLS]": 1, "hello": 2, "world": 3, "!": 4, "the": 5, "cat": 6},
                "unk_token": "[UNK]"
              }
            }
            """;

    /** GPT-2's byte-to-character table: byte-level BPE spells every byte as one printable character. */
    static String[] byteChars() {
        String[] chars = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            chars[b] = new String(Character.toChars(printable ? b : next++));
        }
        return chars;
    }

    static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else {
                sb.append(c);
            }
        }
        return sb.append('"').toString();
    }

    /** Ids 0..255 are the bytes, then the merged tokens, then "<|endoftext|>" as a special added token. */
    static String byteLevelBpeJson() {
        String[] chars = byteChars();
        String[][] merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {chars[' '], "w"}};
        StringBuilder vocab = new StringBuilder();
        for (int b = 0; b < 256; b++) {
            vocab.append(jsonString(chars[b])).append(": ").append(b).append(", ");
        }
        StringBuilder mergeList = new StringBuilder();
        for (int i = 0; i < merges.length; i++) {
            vocab.append(jsonString(merges[i][0] + merges[i][1])).append(": ").append(256 + i).append(", ");
            mergeList.append(i == 0 ? "" : ", ").append(jsonString(merges[i][0] + " " + merges[i][1]));
        }
        int eot = 256 + merges.length;
        vocab.append("\"<|endoftext|>\": ").append(eot);
        return """
                {
                  "version": "1.0", "truncation": null, "padding": null,
                  "added_tokens": [{"id": %d, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                                    "rstrip": false, "normalized": false, "special": true}],
                  "normalizer": null,
                  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                                    "use_regex": true},
                  "post_processor": null,
                  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                              "use_regex": true},
                  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                            "vocab": {%s}, "merges": [%s]}
                }
                """.formatted(eot, vocab, mergeList);
    }

    @BeforeAll
    static void load() throws IOException {
        Path w = Files.writeString(dir.resolve("words.json"), WORD_LEVEL_JSON);
        Path b = Files.writeString(dir.resolve("bpe.json"), byteLevelBpeJson());
        words = HfTokenizer.load(w);
        bpe = HfTokenizer.load(b);
    }

    @AfterAll
    static void close() {
        words.close();
        bpe.close();
    }

    @Test
    void wordLevelEncodesWithoutAddingSpecialTokens() {
        assertThat(words.kind()).isEqualTo("hf");
        assertThat(words.encode("hello world!")).containsExactly(2, 3, 4); // no [CLS] (1) in front
        assertThat(words.decode(new int[] {2, 3, 4})).isEqualTo("hello world !");
        assertThat(words.encodeBytes("the cat".getBytes(StandardCharsets.UTF_8))).containsExactly(5, 6);
        assertThat(words.decodeBytes(new int[] {5, 6})).isEqualTo("the cat".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void specialAndUnknownIdsDecodeToNothing() {
        assertThat(words.encode("hello dog")).containsExactly(2, 0); // [UNK]
        assertThat(words.decode(new int[] {1, 2, 0, 99, -1, 3})).isEqualTo("hello world");
        assertThat(words.decode(new int[] {99, -7})).isEmpty();
    }

    @Test
    void longInputIsNotTruncated() {
        // DJL truncates to 512 tokens unless truncation is switched off.
        String text = "the cat ".repeat(1500);
        int[] ids = words.encode(text);
        assertThat(ids).hasSize(3000);
        // "hello", "Ġw", "o", "r", "l", "d", "Ġ": 7 tokens per repetition
        assertThat(bpe.encode("hello world ".repeat(1000))).hasSize(7000);
    }

    @Test
    void byteLevelBpeMergesAndRoundTrips() {
        int[] ids = bpe.encode("hello world");
        assertThat(ids).startsWith(259, 260); // "hello", "Ġw"
        assertThat(bpe.decode(ids)).isEqualTo("hello world");
        String[] texts = {"naïve café 😀 👨‍👩‍👧‍👦", "日本語のテキスト", "tabs\tand\nnewlines\r\n", "x\uD800y"};
        String[] expected = {texts[0], texts[1], texts[2], "x\uFFFDy"};
        for (int i = 0; i < texts.length; i++) {
            assertThat(bpe.decode(bpe.encode(texts[i]))).isEqualTo(expected[i]);
        }
        Random random = new Random(11);
        for (int i = 0; i < 100; i++) {
            String text = TestSupport.randomMixedText(random, 15);
            assertThat(bpe.decode(bpe.encode(text))).isEqualTo(text);
        }
    }

    @Test
    void streamingHoldsBackIncompleteCharacters() {
        int[] e = bpe.encode("é"); // no merge: the two byte tokens C3, A9
        assertThat(e).containsExactly(0xC3, 0xA9);
        StreamingDecoder d = bpe.newStreamingDecoder();
        assertThat(d.push(0xC3)).isEmpty();
        assertThat(d.push(0xA9)).isEqualTo("é");
        assertThat(d.push(0xF0)).isEmpty();
        assertThat(d.push(0x9F)).isEmpty();
        assertThat(d.push(0x98)).isEmpty();
        assertThat(d.push(0x80)).isEqualTo("😀");
        assertThat(d.push(259)).isEqualTo("hello");
        assertThat(d.push(260)).isEqualTo(" w");
        assertThat(d.push(0xE2)).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void streamingConcatenationEqualsWholeDecode() {
        Random random = new Random(12);
        for (HfTokenizer t : new HfTokenizer[] {words, bpe}) {
            for (int i = 0; i < 60; i++) {
                int[] ids = t == words
                        ? words.encode("hello the world cat ! dog ".repeat(1 + random.nextInt(3)))
                        : bpe.encode(TestSupport.randomMixedText(random, 12));
                StreamingDecoder d = t.newStreamingDecoder();
                StringBuilder sb = new StringBuilder();
                for (int id : ids) {
                    sb.append(d.push(id));
                }
                assertThat(sb.append(d.flush()).toString()).isEqualTo(t.decode(ids));
            }
        }
    }

    @Test
    void loadPinsDjlToTheBundledCpuLibraryWithoutTelemetry() {
        // Set by load() (this JVM sets neither as environment variable nor as property beforehand).
        if (System.getenv("RUST_FLAVOR") == null) {
            assertThat(System.getProperty("RUST_FLAVOR")).isEqualTo("cpu");
        }
        if (System.getenv("OPT_OUT_TRACKING") == null) {
            assertThat(System.getProperty("OPT_OUT_TRACKING")).isEqualTo("true");
        }
    }

    @Test
    void badFilesFailWithIoException() throws IOException {
        Path garbage = Files.writeString(dir.resolve("garbage.json"), "{\"model\": {\"type\": \"Nonsense\"}}");
        assertThatThrownBy(() -> HfTokenizer.load(garbage))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("garbage.json");
        assertThatThrownBy(() -> HfTokenizer.load(dir.resolve("missing.json")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("missing.json");
    }
}
