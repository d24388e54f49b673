package io.engram.model.rwkv7;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.ServeDtype;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Served weight formats on the oracle checkpoint ({@code shared/oracle/rwkv7_a}): the decode logits of bfloat16
 * and int8 weights against float32's over the oracle's prompt and 256 greedy tokens (see {@link ServedQuality}).
 *
 * <p>Tolerances, stated against the logits' own scale (R = max |fp32 logit| over the run, 4.78 here): bfloat16
 * keeps 8 mantissa bits (relative step 2^-8), int8 (groups of 64; C = 64 here, so per row for most matrices) a
 * step of max|w|/127. Measured on this checkpoint: bf16 max |err| 0.018 (0.4% of R), mean 0.0026, greedy
 * agreement 254/256; int8 max 0.068 (1.4% of R), mean 0.0092, agreement 252/256 (docs/PERFORMANCE.md). The bounds
 * are max |err| <= 2% of R (bf16) and 4% of R (int8), mean |err| <= 0.4% / 0.8% of R, agreement >= 90%.
 */
class ServedWeightsOracleTest {

    static Rwkv7Weights w;
    static int[] prompt;

    @BeforeAll
    static void load() {
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"))) {
            w = Rwkv7Weights.read(ck);
        }
        prompt = ints(Fixtures.json("oracle/rwkv7_a.vectors.json").get("seq").get("tokens"));
    }

    @Test
    void float32IsTheReferenceExactly() {
        ServedQuality.Result r = ServedQuality.measure(w, ServeDtype.FLOAT32, prompt, 32);
        assertEquals(0.0, r.maxAbs());
        assertEquals(1.0, r.agreement());
    }

    @Test
    void bfloat16LogitsStayClose() {
        ServedQuality.Result r = ServedQuality.measure(w, ServeDtype.BFLOAT16, prompt, 256);
        System.out.println("oracle rwkv7_a " + r);
        assertTrue(r.maxAbs() > 0, "bf16 must actually change the weights");
        assertTrue(r.maxAbs() <= 0.02 * r.logitRange(), "bf16 max |err| " + r.maxAbs() + " vs range " + r.logitRange());
        assertTrue(r.meanAbs() <= 0.004 * r.logitRange(), "bf16 mean |err| " + r.meanAbs());
        assertTrue(r.agreement() >= 0.9, "bf16 greedy agreement " + r.agreement());
    }

    @Test
    void int8LogitsStayClose() {
        ServedQuality.Result r = ServedQuality.measure(w, ServeDtype.INT8, prompt, 256);
        System.out.println("oracle rwkv7_a " + r);
        assertTrue(r.maxAbs() > 0, "int8 must actually change the weights");
        assertTrue(r.maxAbs() <= 0.04 * r.logitRange(), "int8 max |err| " + r.maxAbs() + " vs range " + r.logitRange());
        assertTrue(r.meanAbs() <= 0.008 * r.logitRange(), "int8 mean |err| " + r.meanAbs());
        assertTrue(r.agreement() >= 0.9, "int8 greedy agreement " + r.agreement());
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(value = ServeDtype.class, names = {"BFLOAT16", "INT8"})
    void batchedStepMatchesOneSequenceAtATime(ServeDtype d) {
        try (Rwkv7Model one = new Rwkv7Model(w, Device.cpu(), 64, true, d);
             Rwkv7Model many = new Rwkv7Model(w, Device.cpu(), 64, true, d)) {
            int n = 3;
            java.util.List<io.engram.model.ModelState> a = new java.util.ArrayList<>(), b = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                int[] p = java.util.Arrays.copyOf(prompt, 2 + i);
                a.add(one.zeroState());
                b.add(many.zeroState());
                one.forward(a.get(i), p, false);
                many.forward(b.get(i), p, false);
            }
            int[] toks = {5, 77, 200};
            for (int step = 0; step < 4; step++) {
                float[][] batched = many.step(b, toks);                      // the block kernel: rows widened once
                for (int i = 0; i < n; i++) {
                    float[] single = one.forward(a.get(i), new int[] {toks[i]}, true);   // the fused one-row kernel
                    io.engram.testsupport.Fixtures.assertClose(d + " sequence " + i + " step " + step, single, batched[i]);
                    toks[i] = ServedQuality.argmax(single);
                }
            }
        }
    }

    @Test
    void reducedFormatsAreRefusedOffTheCpuKernels() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Rwkv7Model(w, Device.cpu(), 64, false, ServeDtype.INT8));
        assertTrue(e.getMessage().contains("only served by the CPU decode kernels"), e.getMessage());
    }
}
