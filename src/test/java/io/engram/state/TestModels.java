package io.engram.state;

import ai.djl.Device;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.demo.DemoModel;
import io.engram.model.rwkv7.Rwkv7Config;
import io.engram.testsupport.OracleModelDir;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Models for state tests: the oracle's tiny RWKV-7 (loaded once per JVM) and a random model of the same shape. */
final class TestModels {

    static final ModelDirectory.Options CPU = new ModelDirectory.Options(Device.cpu(), 16, true);
    /** The oracle checkpoint's shape: L=2, C=64, N=16, V=256. */
    static final Rwkv7Config TINY = Rwkv7Config.of(2, 64, 16, 256, 256, 16, 16, 8, 32);

    private static LoadedModel oracle;

    private TestModels() {}

    /** The oracle's {@code rwkv7_a} as model {@code tiny} (bytes tokenizer); shared, never close it. */
    static synchronized LoadedModel oracle() {
        if (oracle == null) {
            try {
                Path dir = OracleModelDir.create(Files.createTempDirectory("engram-state-test"), "tiny");
                oracle = ModelDirectory.load("tiny", dir, CPU);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return oracle;
    }

    /** A random-weight model with exactly the oracle's shapes but another fingerprint (caller closes it). */
    static LoadedModel randomTwin() throws IOException {
        Path dir = Files.createTempDirectory("engram-state-twin").resolve("twin");
        DemoModel.write(dir, TINY, 99L);
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\"}");
        return ModelDirectory.load("twin", dir, CPU);
    }
}
