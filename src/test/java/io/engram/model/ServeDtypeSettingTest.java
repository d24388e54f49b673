package io.engram.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.testsupport.OracleModelDir;
import io.engram.weights.CheckpointException;
import io.engram.weights.ServeDtype;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a model's served weight format comes from ({@code engram.models.<id>.serve-dtype} over
 * {@code engram.serve-dtype} over config.json's {@code serve_dtype}, else float32), and that a bad value stops
 * loading with a message naming the setting.
 */
class ServeDtypeSettingTest {

    @TempDir
    Path tmp;

    static ModelDirectory.Options opts(String global, Map<String, String> perModel) {
        return new ModelDirectory.Options(Device.cpu(), 16, true, 0, global, perModel, "auto");
    }

    private int made;

    private Path model(String serveDtype) throws Exception {
        Path dir = OracleModelDir.create(tmp.resolve("d" + made++), "m");
        String extra = serveDtype == null ? "" : ", \"serve_dtype\": \"" + serveDtype + "\"";
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\"" + extra + "}");
        return dir;
    }

    private ServeDtype served(Path dir, ModelDirectory.Options o) throws Exception {
        try (LoadedModel m = ModelDirectory.load("m", dir, o)) {
            return ((Rwkv7Model) m.model()).serveDtype();
        }
    }

    @Test
    void defaultIsFloat32AndConfigJsonChooses() throws Exception {
        assertEquals(ServeDtype.FLOAT32, served(model(null), opts("", Map.of())));
        assertEquals(ServeDtype.INT8, served(model("int8"), opts("", Map.of())));
    }

    @Test
    void propertiesOverrideConfigJsonAndPerModelWins() throws Exception {
        Path dir = model("int8");
        assertEquals(ServeDtype.BFLOAT16, served(dir, opts("bfloat16", Map.of())));
        assertEquals(ServeDtype.FLOAT32, served(dir, opts("bfloat16", Map.of("m", "float32"))));
        assertEquals(ServeDtype.INT8, served(dir, opts("", Map.of("other", "float32"))));
    }

    @Test
    void badValueNamesTheFileAndTheChoices() throws Exception {
        Path dir = model("fp8");
        CheckpointException e = assertThrows(CheckpointException.class, () -> served(dir, opts("", Map.of())));
        assertTrue(e.getMessage().contains("\"serve_dtype\" is 'fp8': must be one of [float32, bfloat16, int8]"), e.getMessage());
        CheckpointException p = assertThrows(CheckpointException.class, () -> served(model(null), opts("", Map.of("m", "int4"))));
        assertTrue(p.getMessage().contains("engram.models.m.serve-dtype is 'int4'"), p.getMessage());
    }

    @Test
    void reducedFormatsNeedTheCpuKernels() throws Exception {
        Path dir = model("bfloat16");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> served(dir, new ModelDirectory.Options(Device.cpu(), 16, false, 0, "", Map.of(), "auto")));
        assertTrue(e.getMessage().contains("only served by the CPU decode kernels"), e.getMessage());
    }

    @Test
    void loaderDropsTheCheckpointTensorsAndServesTheSameNumbers() throws Exception {
        Path dir = model("int8");
        int[] prompt = new int[40];                                   // > HOST_ROWS: priming goes through DJL
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37) % 250 + 1;
        try (LoadedModel loaded = ModelDirectory.load("m", dir, opts("", Map.of()));
             io.engram.weights.Checkpoint ck = io.engram.weights.Checkpoints.open(dir);
             Rwkv7Model kept = new Rwkv7Model(io.engram.model.rwkv7.Rwkv7Weights.read(ck), Device.cpu(), 16, true, ServeDtype.INT8)) {
            Rwkv7Model m = (Rwkv7Model) loaded.model();
            assertEquals(kept.parameters(), m.parameters(), "parameters are counted before the copies go");
            var s1 = m.zeroState();
            var s2 = kept.zeroState();
            float[] a = m.forward(s1, prompt, true), b = kept.forward(s2, prompt, true);
            org.junit.jupiter.api.Assertions.assertArrayEquals(b, a, "prime");
            for (int t = 0; t < 8; t++) {
                int tok = argmax(a);
                a = m.forward(s1, new int[] {tok}, true);
                b = kept.forward(s2, new int[] {tok}, true);
                org.junit.jupiter.api.Assertions.assertArrayEquals(b, a, "decode step " + t);
            }
        }
    }

    @Test
    void aServedFormatHasItsOwnFingerprintSoItsStatesKeepTheirOwnIds() throws Exception {
        Path dir = model(null);
        try (LoadedModel f = ModelDirectory.load("m", dir, opts("", Map.of()));
             LoadedModel f2 = ModelDirectory.load("m", dir, opts("float32", Map.of()));
             LoadedModel b = ModelDirectory.load("m", dir, opts("bfloat16", Map.of()));
             LoadedModel q = ModelDirectory.load("m", dir, opts("int8", Map.of()))) {
            assertEquals(f.fingerprint(), f2.fingerprint(), "float32 however it is chosen");
            assertEquals(java.util.Set.of(f.fingerprint(), b.fingerprint(), q.fingerprint()).size(), 3,
                    "each served format primes its own states");
            assertTrue(b.fingerprint().startsWith("sha256:") && b.fingerprint().length() == f.fingerprint().length());
        }
    }

    @Test
    void weightsMemoryChoosesTheHeapUnlessTheWeightsCrowdIt() throws Exception {
        assertTrue(ModelDirectory.offHeap("native", 1, 1000));
        assertTrue(!ModelDirectory.offHeap("heap", 10_000, 1000));
        assertTrue(ModelDirectory.offHeap("auto", 401, 1000), "over 40% of the heap goes native");
        assertTrue(!ModelDirectory.offHeap("auto", 400, 1000));
        Path dir = model("bfloat16");
        try (LoadedModel heap = ModelDirectory.load("m", dir, opts("", Map.of()));
             LoadedModel off = ModelDirectory.load("m", dir, opts("", Map.of()).withWeightsMemory("native"))) {
            assertEquals(0, ((Rwkv7Model) heap.model()).offHeapWeightBytes(), "a tiny model stays on the heap under auto");
            assertTrue(((Rwkv7Model) off.model()).offHeapWeightBytes() > 0);
            int[] prompt = {10, 20, 30, 40};
            org.junit.jupiter.api.Assertions.assertArrayEquals(heap.model().forward(heap.model().zeroState(), prompt, true),
                    off.model().forward(off.model().zeroState(), prompt, true), 1e-4f);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opts("", Map.of()).withWeightsMemory("disk"));
        assertTrue(e.getMessage().contains("must be auto, heap or native"), e.getMessage());
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    @Test
    void servedModelDecodesCloseToFloat32() throws Exception {
        Path dir = model(null);
        try (LoadedModel f = ModelDirectory.load("m", dir, opts("", Map.of()));
             LoadedModel q = ModelDirectory.load("m", dir, opts("int8", Map.of()))) {
            int[] prompt = {10, 20, 30, 40};
            float[] a = f.model().forward(f.model().zeroState(), prompt, true);
            float[] b = q.model().forward(q.model().zeroState(), prompt, true);
            double worst = 0;
            for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
            assertTrue(worst > 0 && worst < 0.2, "int8 vs fp32 max logit difference " + worst);
        }
    }
}
