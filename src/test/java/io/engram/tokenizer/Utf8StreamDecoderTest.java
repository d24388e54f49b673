package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Utf8StreamDecoderTest {

    private static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    /** Pushes {@code bytes} one at a time and returns what each push emitted. */
    private static String[] byteByByte(Utf8StreamDecoder d, byte[] bytes) {
        String[] out = new String[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = d.push(new byte[] {bytes[i]});
        }
        return out;
    }

    @Test
    void twoByteCharacterIsHeldUntilComplete() {
        Utf8StreamDecoder d = new Utf8StreamDecoder();
        assertThat(byteByByte(d, "é".getBytes(StandardCharsets.UTF_8))).containsExactly("", "é");
        assertThat(d.flush()).isEmpty();
    }

    @Test
    void fourByteEmojiEmitsNothingForItsFirstThreeBytes() {
        Utf8StreamDecoder d = new Utf8StreamDecoder();
        assertThat(byteByByte(d, "😀".getBytes(StandardCharsets.UTF_8))).containsExactly("", "", "", "😀");
        assertThat(d.hasPending()).isFalse();
    }

    @Test
    void flushTurnsAnIncompleteTailIntoReplacementAndResets() {
        Utf8StreamDecoder d = new Utf8StreamDecoder();
        assertThat(d.push(hex("41f09f98"))).isEqualTo("A");
        assertThat(d.hasPending()).isTrue();
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.push(hex("42"))).isEqualTo("B");
    }

    @Test
    void malformedBytesAreReplacedLikeTheJdkDecoder() {
        for (String h : new String[] {"80", "ff", "c080", "e282", "e28241", "eda080", "eda0", "f4908080", "f09f9841",
            "e0808080", "c3", "c3c3a9", "fe41ff"}) {
            byte[] b = hex(h);
            Utf8StreamDecoder d = new Utf8StreamDecoder();
            String got = String.join("", byteByByte(d, b)) + d.flush();
            assertThat(got).as(h).isEqualTo(new String(b, StandardCharsets.UTF_8));
        }
    }

    @Test
    void anySplitOfRandomBytesDecodesLikeTheWholeArray() {
        Random random = new Random(42);
        for (int iteration = 0; iteration < 20_000; iteration++) {
            byte[] b = TestSupport.randomBytes(random, random.nextInt(24));
            Utf8StreamDecoder d = new Utf8StreamDecoder();
            StringBuilder sb = new StringBuilder();
            int p = 0;
            while (p < b.length) {
                int len = 1 + random.nextInt(Math.min(5, b.length - p));
                sb.append(d.push(b, p, len));
                p += len;
            }
            sb.append(d.flush());
            assertThat(sb.toString()).as(HexFormat.of().formatHex(b))
                    .isEqualTo(new String(b, StandardCharsets.UTF_8));
        }
    }

    @Test
    void validTextChunkedAnywhereNeverEmitsAReplacementCharacter() {
        Random random = new Random(7);
        for (int iteration = 0; iteration < 500; iteration++) {
            String text = TestSupport.randomMixedText(random, 20);
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            Utf8StreamDecoder d = new Utf8StreamDecoder();
            StringBuilder sb = new StringBuilder();
            for (int p = 0; p < b.length; p++) {
                String s = d.push(b, p, 1);
                assertThat(s).doesNotContain("\uFFFD");
                sb.append(s);
            }
            assertThat(d.flush()).isEmpty();
            assertThat(sb.toString()).isEqualTo(text);
        }
    }
}
