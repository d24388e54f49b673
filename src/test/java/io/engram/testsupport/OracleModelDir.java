package io.engram.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Lays out a models folder holding the oracle's tiny RWKV-7 ({@code rwkv7_a}, vocab 256) with the bytes tokenizer. */
public final class OracleModelDir {

    private OracleModelDir() {}

    public static Path create(Path root, String id) throws IOException {
        Path dir = root.resolve(id);
        Files.createDirectories(dir);
        Files.copy(Fixtures.shared("oracle/rwkv7_a.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\"}");
        return dir;
    }
}
