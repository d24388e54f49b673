package io.engram.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.testsupport.Fixtures;
import io.engram.testsupport.OracleModelDir;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;
import io.engram.weights.HostTensor;
import io.engram.weights.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading model folders: identity, formats, and failures that must stop start-up with a useful message. */
class ModelDirectoryTest {

    static final ModelDirectory.Options CPU = new ModelDirectory.Options(Device.cpu(), 16, true);

    @TempDir
    Path tmp;

    @Test
    void fingerprintIsStableAndCoversConfigAndWeights() throws Exception {
        Path a = OracleModelDir.create(tmp.resolve("a"), "m");
        Path b = OracleModelDir.create(tmp.resolve("b"), "m");
        try (LoadedModel x = load(a); LoadedModel y = load(b)) {
            assertEquals(x.fingerprint(), y.fingerprint(), "same files, same fingerprint on any server");
        }
        Files.writeString(b.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\", \"x\": 1}");
        try (LoadedModel x = load(a); LoadedModel y = load(b)) {
            assertNotEquals(x.fingerprint(), y.fingerprint());
        }
    }

    @Test
    void bf16PthLoadsDirectlyAndAgreesWithFp32WithinBf16Rounding() throws Exception {
        Path dir = tmp.resolve("bf16");
        Files.createDirectories(dir);
        Files.copy(Fixtures.shared("oracle/rwkv7_a.bf16.pth"), dir.resolve("rwkv7_a.bf16.pth"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\"}");
        Path fp32 = OracleModelDir.create(tmp, "fp32");
        try (LoadedModel half = load(dir); LoadedModel full = load(fp32)) {
            assertEquals("bfloat16", half.weightsDtype());
            int[] tokens = Fixtures.ints(Fixtures.json("oracle/rwkv7_a.vectors.json").get("seq").get("tokens"));
            float[] x = half.model().forward(half.model().zeroState(), tokens, true);
            float[] y = full.model().forward(full.model().zeroState(), tokens, true);
            double worst = 0;
            for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
            // bf16 keeps 8 bits of mantissa: logits move, but only by a few percent of their scale
            assertTrue(worst > 0 && worst < 0.1, "bf16 vs fp32 max logit difference " + worst);
        }
    }

    @Test
    void missingTensorIsNamedWithItsExpectedShape() throws Exception {
        Path dir = rewrite("missing", t -> t.remove("blocks.1.att.key.weight"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> load(dir));
        assertTrue(e.getMessage().contains("blocks.1.att.key.weight"), e.getMessage());
    }

    @Test
    void misshapenTensorIsNamedWithBothShapes() throws Exception {
        Path dir = rewrite("misshapen", t -> t.put("blocks.0.ffn.value.weight",
                HostTensor.ofFloats("blocks.0.ffn.value.weight", new long[] {64, 255}, new float[64 * 255])));
        CheckpointException e = assertThrows(CheckpointException.class, () -> load(dir));
        assertTrue(e.getMessage().contains("blocks.0.ffn.value.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("256") && e.getMessage().contains("255"), e.getMessage());
    }

    @Test
    void truncatedCheckpointNamesTheFile() throws Exception {
        Path dir = OracleModelDir.create(tmp, "cut");
        Path f = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(all, all.length / 2));
        CheckpointException e = assertThrows(CheckpointException.class, () -> load(dir));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }

    @Test
    void configProblemsSayWhatIsExpected() throws Exception {
        Path dir = OracleModelDir.create(tmp, "cfg");
        Files.delete(dir.resolve("config.json"));
        assertTrue(assertThrows(CheckpointException.class, () -> load(dir)).getMessage().contains("config.json"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"gpt\"}");
        assertTrue(assertThrows(CheckpointException.class, () -> load(dir)).getMessage().contains("rwkv7"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"rwkv-world\"}");
        // the RWKV World vocabulary file is missing from the folder
        assertTrue(assertThrows(CheckpointException.class, () -> load(dir)).getMessage().contains("rwkv_vocab"));
    }

    private Path rewrite(String name, java.util.function.Consumer<Map<String, HostTensor>> edit) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        try (var ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"))) {
            for (String n : ck.names()) {
                HostTensor t = ck.get(n);
                tensors.put(n, HostTensor.ofFloats(n, t.shape(), t.toFloatArray()));
            }
        }
        edit.accept(tensors);
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of());
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\"}");
        return dir;
    }

    private static LoadedModel load(Path dir) throws Exception {
        return ModelDirectory.load(dir.getFileName().toString(), dir, CPU);
    }
}
