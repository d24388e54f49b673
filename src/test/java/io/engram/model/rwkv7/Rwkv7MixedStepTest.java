package io.engram.model.rwkv7;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * A mixed step (decode rows with a chunk of another sequence's prompt riding along, one pass over the weights)
 * equals the same work done apart: the chunk read by {@code forward}, then a batched decode step. On the oracle
 * checkpoint. Where both ways run the Java kernels, whose rows never interact (up to {@link Rwkv7Model#HOST_ROWS}
 * rows, or any number with {@link Rwkv7Model#javaChunks}), logits and states must match to a few ulps (the
 * same sums in the same order; only the Vector API's lane reduction may order them differently); with libtorch
 * for chunks, a larger mixed step goes through its GEMM where the separate decode step does not, so there the bound
 * is 1e-5 of the logit range (float32 rounding).
 */
class Rwkv7MixedStepTest {

    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"1,true", "10,true", "30,true", "1,false", "10,false", "30,false"})
    void mixedStepEqualsTheChunkThenTheStep(int chunk, boolean javaChunks) {
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"));
             Rwkv7Model m = Fixtures.withJavaChunks(javaChunks, () -> new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 64, true))) {
            ModelState[] apart = setUp(m), mixed = setUp(m);
            int[] doc = new int[chunk];
            for (int i = 0; i < chunk; i++) doc[i] = (7 * i + 3) % 250 + 1;

            float[] primeApart = m.forward(apart[2], doc, true);
            float[][] stepApart = m.step(List.of(apart[0], apart[1]), new int[] {11, 12});

            int[] tokens = new int[2 + chunk];
            tokens[0] = 11;
            tokens[1] = 12;
            System.arraycopy(doc, 0, tokens, 2, chunk);
            float[][] out = m.stepMixed(List.of(mixed[0], mixed[1], mixed[2]), tokens, new int[] {1, 1, chunk},
                    new boolean[] {true, true, true});
            boolean exact = m.javaChunks() || 2 + chunk <= Rwkv7Model.HOST_ROWS;
            same(exact, stepApart[0], out[0], "decode row 0");
            same(exact, stepApart[1], out[1], "decode row 1");
            same(exact, primeApart, out[2], "the riding chunk's last logits");
            for (int i = 0; i < 3; i++) {
                assertEquals(apart[i].position(), mixed[i].position(), "position of sequence " + i);
                List<StateTensor> a = apart[i].tensors(), b = mixed[i].tensors();
                for (int k = 0; k < a.size(); k++) same(exact, a.get(k).data(), b.get(k).data(), "state " + i + " " + a.get(k).name());
            }
            float[][] noLogits = m.stepMixed(List.of(mixed[0], mixed[2]), new int[] {5, 6, 7}, new int[] {1, 2},
                    new boolean[] {true, false});
            assertNull(noLogits[1], "no head for a chunk that does not ask");
            assertEquals(m.vocabSize(), noLogits[0].length);
        }
    }

    /** Two decoding sequences with some history, and one that has read part of its prompt. */
    private static ModelState[] setUp(Rwkv7Model m) {
        ModelState[] s = {m.zeroState(), m.zeroState(), m.zeroState()};
        m.forward(s[0], new int[] {1, 2, 3}, true);
        m.forward(s[1], new int[] {9, 8}, true);
        m.forward(s[2], new int[] {42}, false);
        return s;
    }

    private static void same(boolean exact, float[] a, float[] b, String what) {
        double range = 0, worst = 0;
        for (int i = 0; i < a.length; i++) {
            range = Math.max(range, Math.abs(a[i]));
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        // exact: the same sums in the same order; only the Vector API's lane reduction may add them in another
        // order where one kernel runs compiled and the other not yet (1e-6 of the range is a few float32 ulps)
        double bound = exact ? 1e-6 : 1e-5;
        assertTrue(worst <= bound * Math.max(range, 1e-3), what + ": differs by " + worst + " (range " + range + ")");
    }
}
