package io.engram.model;

import static io.engram.testsupport.Fixtures.assertClose;
import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.Fixtures.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.retnet.RetNetModel;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** Loading RetNet model folders: where the hyperparameters come from, the chunk-size setting, and misfits. */
class RetNetModelDirectoryTest {

    static final JsonNode META = Fixtures.json("oracle/retnet_a.vectors.json");

    @TempDir
    Path tmp;

    @Test
    void safetensorsWithItsEmbeddedConfigNeedsOnlyArchitectureAndTokenizer() throws Exception {
        Path dir = folder("st", "oracle/retnet_a.safetensors", "model.safetensors", "{\"architecture\": \"retnet\", \"tokenizer\": \"bytes\"}");
        try (LoadedModel m = ModelDirectory.load("st", dir, new ModelDirectory.Options(Device.cpu(), 16, true))) {
            assertEquals("retnet", m.architecture());
            assertEquals(8, ((RetNetModel) m.model()).chunkSize(), "recurrent_chunk_size from the checkpoint");
            assertLastLogits(m);
        }
    }

    @Test
    void pthTakesItsHyperparametersFromConfigJsonAndTheChunkSizeSettingWins() throws Exception {
        ObjectNode cfg = ((ObjectNode) META.get("config")).deepCopy();
        cfg.put("architecture", "retnet");
        cfg.put("tokenizer", "bytes");
        Path dir = folder("pth", "oracle/retnet_a.fp32.pth", "retnet_a.fp32.pth", cfg.toString());
        try (LoadedModel m = ModelDirectory.load("pth", dir, new ModelDirectory.Options(Device.cpu(), 16, true, 5))) {
            assertEquals(5, ((RetNetModel) m.model()).chunkSize(), "engram.retnet.chunk-size overrides the config");
            assertLastLogits(m);
        }
    }

    @Test
    void missingHyperparameterIsNamed() throws Exception {
        Path dir = folder("bare", "oracle/retnet_a.fp32.pth", "retnet_a.fp32.pth", "{\"architecture\": \"retnet\", \"tokenizer\": \"bytes\"}");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> ModelDirectory.load("bare", dir, new ModelDirectory.Options(Device.cpu(), 16, true)));
        assertTrue(e.getMessage().contains("decoder_embed_dim"), e.getMessage());
    }

    @Test
    void configThatDisagreesWithTheWeightsNamesTheTensor() throws Exception {
        ObjectNode cfg = ((ObjectNode) META.get("config")).deepCopy();
        cfg.put("architecture", "retnet");
        cfg.put("tokenizer", "bytes");
        cfg.put("decoder_value_embed_dim", 64);
        Path dir = folder("bad", "oracle/retnet_a.safetensors", "model.safetensors", cfg.toString());
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> ModelDirectory.load("bad", dir, new ModelDirectory.Options(Device.cpu(), 16, true)));
        assertTrue(e.getMessage().contains("v_proj.weight"), e.getMessage());
    }

    private Path folder(String name, String fixture, String file, String configJson) throws Exception {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(Fixtures.shared(fixture), dir.resolve(file));
        Files.writeString(dir.resolve("config.json"), configJson);
        return dir;
    }

    private static void assertLastLogits(LoadedModel m) {
        int[] tokens = ints(META.get("seq").get("tokens"));
        try (Checkpoint vectors = Checkpoints.open(Fixtures.shared("oracle/retnet_a.vectors.safetensors"))) {
            float[] last = m.model().forward(m.model().zeroState(), tokens, true);
            assertClose("logits after priming seq", row(vectors.get("seq.logits").toFloatArray(), 256, tokens.length - 1), last);
        }
    }
}
