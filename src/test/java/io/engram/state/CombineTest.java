package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.error.EngramException;
import io.engram.model.LanguageModel;
import io.engram.model.LoadedModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Combination is the per-architecture pure function {@link LanguageModel#combine}: with 1 state it is that state,
 * with 2 it matches the reference's weighted mean, with 8 it is the weighted mean of every tensor; the inputs are
 * never modified and the order of the components does not matter beyond rounding.
 */
class CombineTest {

    static LoadedModel tiny;
    static LanguageModel m;

    @BeforeAll
    static void load() {
        tiny = TestModels.oracle();
        m = tiny.model();
    }

    static ModelState primed(long seed, int n) {
        ModelState s = m.zeroState();
        m.forward(s, new SplittableRandom(seed).ints(n, 0, 256).toArray(), false);
        return s;
    }

    static List<float[]> snapshot(ModelState s) {
        List<float[]> out = new ArrayList<>();
        for (StateTensor t : s.tensors()) out.add(t.data().clone());
        return out;
    }

    @Test
    void combiningOneStateGivesThatState() {
        ModelState s = primed(1, 17);
        ModelState c = m.combine(List.of(s), StateMixer.normalisedWeights(List.of(new StateMixer.Ref("x", 5.0))));
        for (int i = 0; i < s.tensors().size(); i++) {
            float[] x = s.tensors().get(i).data(), y = c.tensors().get(i).data();
            for (int j = 0; j < x.length; j++) assertTrue(x[j] == y[j], s.tensors().get(i).name() + "[" + j + "]");
        }
        assertEquals(s.position(), c.position());
    }

    @Test
    void combiningTwoStatesMatchesTheReferenceMean() {
        JsonNode meta = Fixtures.json("oracle/rwkv7_a.vectors.json");
        try (Checkpoint vectors = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.vectors.safetensors"))) {
            for (JsonNode combo : meta.get("combos")) {
                String name = combo.get("name").asText();
                ModelState a = m.zeroState(), b = m.zeroState();
                m.forward(a, Fixtures.ints(combo.get("doc_a")), false);
                m.forward(b, Fixtures.ints(combo.get("doc_b")), false);
                // weights 1:3 are normalised to the reference's 0.25/0.75
                double[] w = StateMixer.normalisedWeights(List.of(new StateMixer.Ref("a", 1), new StateMixer.Ref("b", 3)));
                assertArrayEquals(new double[] {0.25, 0.75}, w);
                ModelState mean = m.combine(List.of(a, b), w);
                for (StateTensor t : mean.tensors()) {
                    Fixtures.assertClose(name + " " + t.name(), vectors.get(name + ".mean_state." + t.name()).toFloatArray(), t.data());
                }
            }
        }
    }

    @Test
    void combiningEightStatesIsTheWeightedMeanOfEveryTensor() {
        List<ModelState> states = new ArrayList<>();
        List<StateMixer.Ref> refs = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(8);
        for (int i = 0; i < 8; i++) {
            states.add(primed(100 + i, 5 + 4 * i));
            refs.add(new StateMixer.Ref("s" + i, i == 3 ? 0.0 : rnd.nextDouble() * 10)); // a zero weight is allowed
        }
        List<List<float[]>> before = new ArrayList<>();
        for (ModelState s : states) before.add(snapshot(s));
        double[] w = StateMixer.normalisedWeights(refs);
        double sum = 0;
        for (double x : w) sum += x;
        assertEquals(1.0, sum, 1e-12);

        ModelState mean = m.combine(states, w);
        for (int t = 0; t < mean.tensors().size(); t++) {
            float[] got = mean.tensors().get(t).data();
            for (int j = 0; j < got.length; j++) {
                double want = 0, scale = 0;
                for (int i = 0; i < 8; i++) {
                    double x = states.get(i).tensors().get(t).data()[j];
                    want += w[i] * x;
                    scale += Math.abs(w[i] * x);
                }
                assertEquals(want, got[j], 1e-6 * scale + 1e-7, mean.tensors().get(t).name() + "[" + j + "]");
            }
        }
        assertEquals(5 + 4 * 7, mean.position(), "the position of a combined RWKV-7 state is the longest component's");
        // pure: the inputs are untouched
        for (int i = 0; i < 8; i++) {
            List<float[]> now = snapshot(states.get(i));
            for (int t = 0; t < now.size(); t++) assertArrayEquals(before.get(i).get(t), now.get(t));
        }
        // order does not matter beyond float rounding
        List<ModelState> reversed = new ArrayList<>(states);
        java.util.Collections.reverse(reversed);
        double[] wr = new double[8];
        for (int i = 0; i < 8; i++) wr[i] = w[7 - i];
        ModelState back = m.combine(reversed, wr);
        for (int t = 0; t < mean.tensors().size(); t++) {
            Fixtures.assertClose("reversed " + t, mean.tensors().get(t).data(), back.tensors().get(t).data());
        }
        // eight copies of one state, any weights: that state (up to rounding)
        List<ModelState> same = new ArrayList<>();
        for (int i = 0; i < 8; i++) same.add(states.get(0));
        ModelState c = m.combine(same, w);
        for (int t = 0; t < c.tensors().size(); t++) {
            Fixtures.assertClose("copies " + t, states.get(0).tensors().get(t).data(), c.tensors().get(t).data());
        }
    }

    @Test
    void weightsMustBeFiniteNonNegativeWithAPositiveSum() {
        for (double bad : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThrows(EngramException.class, () -> StateMixer.normalisedWeights(
                    List.of(new StateMixer.Ref("a", 1), new StateMixer.Ref("b", bad))));
        }
        assertThrows(EngramException.class, () -> StateMixer.normalisedWeights(
                List.of(new StateMixer.Ref("a", 0), new StateMixer.Ref("b", 0))));
    }
}
