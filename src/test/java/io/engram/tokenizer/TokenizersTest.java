package io.engram.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {

    @TempDir
    Path empty;

    @Test
    void loadsEachKind() throws IOException {
        Tokenizer rwkv = Tokenizers.load("rwkv-world", TestSupport.sharedDir().resolve("models-data"));
        assertThat(rwkv).isInstanceOf(RwkvWorldTokenizer.class);
        assertThat(rwkv.encode("Hello")).containsExactly(33155);

        Tokenizer bytes = Tokenizers.load("bytes", null);
        assertThat(bytes).isInstanceOf(ByteTokenizer.class);
        assertThat(bytes.kind()).isEqualTo("bytes");

        Files.writeString(empty.resolve("tokenizer.json"), HfTokenizerTest.WORD_LEVEL_JSON);
        Tokenizer hf = Tokenizers.load("hf", empty);
        assertThat(hf).isInstanceOf(HfTokenizer.class);
        assertThat(hf.encode("hello world")).containsExactly(2, 3);
        ((HfTokenizer) hf).close();
    }

    @Test
    void unknownKindNamesTheKnownOnes() {
        assertThatThrownBy(() -> Tokenizers.load("sentencepiece", empty))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sentencepiece")
                .hasMessageContaining("rwkv-world")
                .hasMessageContaining("bytes")
                .hasMessageContaining("hf");
        assertThatThrownBy(() -> Tokenizers.load(null, empty)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingFileNamesTheExpectedFile() {
        assertThatThrownBy(() -> Tokenizers.load("rwkv-world", empty))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(empty.resolve("rwkv_vocab_v20230424.txt").toString());
        assertThatThrownBy(() -> Tokenizers.load("hf", empty))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(empty.resolve("tokenizer.json").toString());
        assertThatThrownBy(() -> Tokenizers.load("hf", null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tokenizer.json");
    }
}
