package io.engram.model.rwkv7;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.ModelState;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.ServeDtype;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Weights off the Java heap serve the same numbers as Java arrays, on the oracle checkpoint
 * ({@code shared/oracle/rwkv7_a}), in every served format: priming through libtorch (a prompt longer than the Java
 * kernels' rows, so the GEMMs read the off-heap float32 in place or the widened scratch), single-stream decode and
 * a batched step. float32 must agree to 1e-6 of the logit range (a few ulps): both storages run the same kernels
 * on the same values, but from different call sites, and the Vector API sums a vector's lanes in another order in
 * interpreted than in compiled code, so until both sites are compiled the same product can differ in its last bit
 * (seen: 0.5881783 against 0.58817834). A wrong weight or offset moves the logits by orders of magnitude more.
 * bfloat16 and int8 go through the block path off the heap (widened rows, then the float32 micro-kernel), which
 * rounds differently from the in-register one-row kernels; their bound is 1e-5 of the logit range.
 */
class OffHeapWeightsTest {

    @ParameterizedTest
    @EnumSource(ServeDtype.class)
    void offHeapServesWhatTheHeapServes(ServeDtype dtype) {
        int[] doc = ints(Fixtures.json("oracle/rwkv7_a.vectors.json").get("seq").get("tokens"));
        int[] prompt = new int[40];                                   // > HOST_ROWS: a chunk, not a decode batch
        for (int i = 0; i < prompt.length; i++) prompt[i] = doc[i % doc.length];
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            for (boolean javaChunks : new boolean[] {true, false})   // priming's products in Java, or in libtorch
            try (Rwkv7Model heap = Fixtures.withJavaChunks(javaChunks, () -> new Rwkv7Model(w, Device.cpu(), 64, true, dtype, false));
                 Rwkv7Model off = Fixtures.withJavaChunks(javaChunks, () -> new Rwkv7Model(w, Device.cpu(), 64, true, dtype, true))) {
                assertEquals(0, heap.offHeapWeightBytes());
                assertTrue(off.offHeapWeightBytes() >= w.config.servedBytes(dtype) * 0.9,
                        "off-heap bytes " + off.offHeapWeightBytes() + " vs served " + w.config.servedBytes(dtype));
                ModelState hs = heap.zeroState(), os = off.zeroState();
                float[] a = heap.forward(hs, prompt, true), b = off.forward(os, prompt, true);
                same(dtype, a, b, "prime");
                for (int t = 0; t < 8; t++) {
                    int tok = argmax(a);
                    a = heap.forward(hs, new int[] {tok}, true);
                    b = off.forward(os, new int[] {tok}, true);
                    same(dtype, a, b, "decode step " + t);
                }
                ModelState h2 = heap.zeroState(), o2 = off.zeroState();
                float[][] sa = heap.step(List.of(hs, h2), new int[] {5, 9}), sb = off.step(List.of(os, o2), new int[] {5, 9});
                for (int i = 0; i < 2; i++) same(dtype, sa[i], sb[i], "batched step, row " + i);
            }
        }
    }

    private static void same(ServeDtype dtype, float[] a, float[] b, String what) {
        double range = 0, worst = 0;
        for (int i = 0; i < a.length; i++) {
            range = Math.max(range, Math.abs(a[i]));
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        double bound = (dtype == ServeDtype.FLOAT32 ? 1e-6 : 1e-5) * range;
        assertTrue(worst <= bound, what + ": " + dtype + " off the heap differs by " + worst + " (range " + range + ")");
    }

    private static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }
}
