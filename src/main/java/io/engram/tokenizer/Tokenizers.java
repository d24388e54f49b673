package io.engram.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Creates the tokenizer a model's {@code config.json} names. */
public final class Tokenizers {

    private Tokenizers() {}

    /**
     * Loads a tokenizer from a model directory.
     *
     * <ul>
     *   <li>{@code "rwkv-world"}: {@code modelDir/rwkv_vocab_v20230424.txt}</li>
     *   <li>{@code "bytes"}: needs no file ({@code modelDir} is not consulted and may be null)</li>
     *   <li>{@code "hf"}: {@code modelDir/tokenizer.json}</li>
     * </ul>
     *
     * @param kind the tokenizer kind
     * @param modelDir the model directory
     * @return the tokenizer
     * @throws IllegalArgumentException if the kind is unknown or the file it needs does not exist; the message
     *     says which kinds or which file is expected
     * @throws IOException if the file exists but cannot be read or parsed
     */
    public static Tokenizer load(String kind, Path modelDir) throws IOException {
        if (kind == null) {
            throw new IllegalArgumentException(
                    "no tokenizer kind given; expected one of \"rwkv-world\", \"bytes\", \"hf\"");
        }
        switch (kind) {
            case "rwkv-world":
                return RwkvWorldTokenizer.load(requireFile(kind, modelDir, RwkvWorldTokenizer.VOCAB_FILE));
            case "bytes":
                return new ByteTokenizer();
            case "hf":
                return HfTokenizer.load(requireFile(kind, modelDir, HfTokenizer.TOKENIZER_FILE));
            default:
                throw new IllegalArgumentException("unknown tokenizer kind \"" + kind
                        + "\"; expected one of \"rwkv-world\", \"bytes\", \"hf\"");
        }
    }

    private static Path requireFile(String kind, Path modelDir, String fileName) {
        if (modelDir == null) {
            throw new IllegalArgumentException(
                    "tokenizer \"" + kind + "\" needs " + fileName + " in the model directory, but none was given");
        }
        Path file = modelDir.resolve(fileName);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(
                    "tokenizer \"" + kind + "\" expects the file " + file + ", which does not exist");
        }
        return file;
    }
}
