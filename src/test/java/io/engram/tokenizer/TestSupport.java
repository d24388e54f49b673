package io.engram.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Random;

/** Fixtures and random text for the tokenizer tests. */
final class TestSupport {

    private static RwkvWorldTokenizer rwkv;

    private TestSupport() {}

    /** The shared fixtures directory ({@code engram.shared-dir}, default {@code ../shared}). */
    static Path sharedDir() {
        return Path.of(System.getProperty("engram.shared-dir", "../shared"));
    }

    static Path vocabFile() {
        return sharedDir().resolve("models-data").resolve(RwkvWorldTokenizer.VOCAB_FILE);
    }

    /** The real RWKV World tokenizer, loaded once for all tests. */
    static synchronized RwkvWorldTokenizer rwkv() {
        if (rwkv == null) {
            try {
                rwkv = RwkvWorldTokenizer.load(vocabFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return rwkv;
    }

    /** Random Unicode scalar values (no surrogate code points) from the whole range U+0000..U+10FFFF. */
    static String randomCodePoints(Random random, int count) {
        StringBuilder sb = new StringBuilder();
        while (count > 0) {
            int cp = random.nextInt(Character.MAX_CODE_POINT + 1);
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
                continue;
            }
            sb.appendCodePoint(cp);
            count--;
        }
        return sb.toString();
    }

    private static final String[] PIECES = {
        "the ", "Hello", " world", "!", "\n", "\n\n", "  ", "\t", "naïve ", "café", "日本語", "のテキスト", "中文",
        "한국어", "Привет", "مرحبا", "नमस्ते", "ไทย", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇯🇵", "e\u0301", "𝄞", "𠀀", "∑x²",
        "12345", "<think>", "User:", " Assistant:", "\u00a0", "\u200b", "'", "\"", "\\", "{}", "-----",
    };

    /** Text that mixes English, several scripts, emoji and digits, with random code points sprinkled in. */
    static String randomMixedText(Random random, int pieces) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < pieces; i++) {
            if (random.nextInt(8) == 0) {
                sb.append(randomCodePoints(random, 1 + random.nextInt(3)));
            } else {
                sb.append(PIECES[random.nextInt(PIECES.length)]);
            }
        }
        return sb.toString();
    }

    /** Random bytes biased towards the bytes that matter for UTF-8 validity. */
    static byte[] randomBytes(Random random, int length) {
        int[] interesting = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xDF,
            0xE0, 0xE2, 0xE6, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFE, 0xFF};
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (random.nextBoolean() ? random.nextInt(256) : interesting[random.nextInt(interesting.length)]);
        }
        return b;
    }
}
