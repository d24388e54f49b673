package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {

    private final ByteTokenizer tok = new ByteTokenizer();

    @Test
    void idIsTheByteValue() {
        assertThat(tok.kind()).isEqualTo("bytes");
        assertThat(tok.encode("Hé")).containsExactly(0x48, 0xC3, 0xA9);
        assertThat(tok.encodeBytes(new byte[] {0, (byte) 0xFF})).containsExactly(0, 255);
        assertThat(tok.decode(new int[] {0x48, 0xC3, 0xA9})).isEqualTo("Hé");
    }

    @Test
    void idsAboveByteRangeYieldNothing() {
        assertThat(tok.decodeBytes(new int[] {300})).isEmpty();
        assertThat(tok.decodeBytes(new int[] {65, 300, -1, 256, 66})).containsExactly(65, 66);
        assertThat(tok.newStreamingDecoder().push(300)).isEmpty();
    }

    @Test
    void roundTrips() {
        Random random = new Random(3);
        for (int i = 0; i < 500; i++) {
            byte[] b = TestSupport.randomBytes(random, random.nextInt(50));
            assertThat(tok.decodeBytes(tok.encodeBytes(b))).isEqualTo(b);
            String text = TestSupport.randomMixedText(random, 10);
            assertThat(tok.decode(tok.encode(text))).isEqualTo(text);
        }
        assertThat(tok.decode(tok.encode("x\uD800y"))).isEqualTo("x\uFFFDy");
    }

    @Test
    void streaming() {
        StreamingDecoder d = tok.newStreamingDecoder();
        byte[] emoji = "😀".getBytes(StandardCharsets.UTF_8);
        assertThat(d.push(emoji[0] & 0xFF)).isEmpty();
        assertThat(d.push(emoji[1] & 0xFF)).isEmpty();
        assertThat(d.push(emoji[2] & 0xFF)).isEmpty();
        assertThat(d.push(emoji[3] & 0xFF)).isEqualTo("😀");
        assertThat(d.push(0xC3)).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");

        Random random = new Random(4);
        for (int i = 0; i < 300; i++) {
            int[] ids = tok.encodeBytes(TestSupport.randomBytes(random, 30));
            StreamingDecoder s = tok.newStreamingDecoder();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(s.push(id));
            }
            assertThat(sb.append(s.flush()).toString()).isEqualTo(tok.decode(ids));
        }
    }
}
