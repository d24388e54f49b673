package io.engram.model.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.rwkv7.Rwkv7Config;
import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.WeightDType;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bf16 random checkpoint (what {@code bench --write-random-1.5b} writes, at a tiny shape): matrices stored as
 * BF16, vectors as F32; the loader reports it as bfloat16, and serving it as bfloat16 off the heap gives the same
 * logits as serving it as float32 on the heap, since every bf16 value widens exactly and the bf16 embedding and
 * matrices are then exact copies (only the kernels' rounding differs: bound 1e-4 of the logit range).
 */
class Bf16DemoModelTest {

    @TempDir
    Path tmp;

    @Test
    void bf16CheckpointLoadsAndServesItsOwnValues() throws Exception {
        Path dir = tmp.resolve("tiny-bf16");
        DemoModel.write(dir, Rwkv7Config.of(2, 128, 64, 65536, 256, 16, 16, 16, 32), 3L, true);
        try (Checkpoint ck = Checkpoints.open(dir)) {
            assertEquals(WeightDType.BF16, ck.get("emb.weight").dtype());
            assertEquals(WeightDType.BF16, ck.get("blocks.0.att.key.weight").dtype());
            assertEquals(WeightDType.F32, ck.get("blocks.0.ln1.weight").dtype());
        }
        ModelDirectory.Options o = new ModelDirectory.Options(Device.cpu(), 16, true);
        try (LoadedModel f32 = ModelDirectory.load("m", dir, o.withWeightsMemory("heap"));
             LoadedModel bf16 = ModelDirectory.load("m", dir, o.withServeDtype("bfloat16").withWeightsMemory("native"))) {
            assertEquals("bfloat16", f32.weightsDtype());
            assertTrue(((Rwkv7Model) bf16.model()).offHeapWeightBytes() > 0);
            int[] prompt = new int[24];
            for (int i = 0; i < prompt.length; i++) prompt[i] = 100 + 37 * i;
            float[] a = f32.model().forward(f32.model().zeroState(), prompt, true);
            float[] b = bf16.model().forward(bf16.model().zeroState(), prompt, true);
            double range = 0;
            for (float v : a) range = Math.max(range, Math.abs(v));
            assertArrayEquals(a, b, (float) (1e-4 * range));
        }
    }
}
