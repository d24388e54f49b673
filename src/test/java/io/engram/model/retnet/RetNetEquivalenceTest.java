package io.engram.model.retnet;

import static io.engram.testsupport.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The three paradigms, chunk boundaries, continuation from a state, and combination, on random checkpoints of
 * shapes other than the oracle's (including gelu/relu, the sqrt(D) embedding scale and the embedding RMSNorm), at
 * the oracle's tolerance. With {@link Normalisation#EXACT} the paradigms agree to float rounding; torchscale's own
 * normalisers differ from it only through the RMSNorm epsilon, so they are compared with eps = 0.
 */
class RetNetEquivalenceTest {

    /** dk = 16, dv = 32, 3 heads, 2 layers, gelu, embedding scaled by sqrt(D) and RMS-normed, chunk 5. */
    static final RetNetConfig A = RandomRetNets.config(48, 96, 3, 80, 2, RetNetConfig.Activation.GELU, false, true, 97, 5);
    /** dk = 16, dv = 16, 2 heads, 3 layers, swish, chunk 7. */
    static final RetNetConfig B = RandomRetNets.config(32, 32, 2, 48, 3, RetNetConfig.Activation.SWISH, true, false, 61, 7);
    /** dk = 8, dv = 24, 4 heads, 1 layer, relu, chunk 4. */
    static final RetNetConfig C = RandomRetNets.config(32, 96, 4, 40, 1, RetNetConfig.Activation.RELU, true, false, 50, 4);

    static Stream<Arguments> shapesAndChunks() {
        List<Arguments> out = new ArrayList<>();
        for (RetNetConfig c : List.of(A, B, C)) {
            // the config's chunk (23 tokens leave a short last chunk), chunk 1, and a chunk longer than the document
            for (int chunk : new int[] {0, 1, 64}) out.add(Arguments.of(label(c), c, chunk));
        }
        return out.stream();
    }

    static Stream<Arguments> shapes() {
        return Stream.of(A, B, C).map(c -> Arguments.of(label(c), c));
    }

    private static String label(RetNetConfig c) {
        return "D" + c.dim() + " H" + c.heads() + " L" + c.layers() + " " + c.activation().key();
    }

    @ParameterizedTest(name = "{0}, chunk {2}")
    @MethodSource("shapesAndChunks")
    void parallelRecurrentAndChunkwiseAgreeFromTheZeroState(String name, RetNetConfig cfg, int chunk) {
        agreeFromTheZeroState(name, cfg, chunk, Normalisation.EXACT);
    }

    /** torchscale's normalisers are the exact ones times a per-row factor: with eps = 0 the RMSNorm cancels it. */
    @ParameterizedTest(name = "{0}, chunk {2}")
    @MethodSource("shapesAndChunks")
    void torchscaleNormalisersAgreeWithoutEpsilon(String name, RetNetConfig cfg, int chunk) {
        agreeFromTheZeroState(name + " eps 0", noEps(cfg), chunk, Normalisation.TORCHSCALE);
    }

    private static RetNetConfig noEps(RetNetConfig c) {
        return new RetNetConfig(c.dim(), c.valueDim(), c.heads(), c.ffnDim(), c.layers(), c.activation(),
                c.noScaleEmbedding(), c.layernormEmbedding(), 0f, c.vocab(), c.chunkSize());
    }

    private static void agreeFromTheZeroState(String name, RetNetConfig cfg, int chunk, Normalisation norm) {
        try (RetNetModel m = RandomRetNets.model(cfg, 11, chunk)) {
            int[] doc = tokens(23, cfg.vocab(), 1);
            ModelState rs = m.zeroState();
            float[][] recurrent = m.logitsAll(rs, doc, Paradigm.RECURRENT);
            for (Paradigm p : List.of(Paradigm.PARALLEL, Paradigm.CHUNKWISE)) {
                ModelState s = m.zeroState();
                float[][] got = m.logitsAll(s, doc, p, norm);
                for (int t = 0; t < doc.length; t++) assertClose(name + " " + p + " row " + t, recurrent[t], got[t]);
                assertStatesClose(name + " " + p, rs, s);
            }
        }
    }

    /** A non-zero starting state exercises the cross term, the carried scale and the chunkwise kv normaliser. */
    @ParameterizedTest(name = "{0}, chunk {2}")
    @MethodSource("shapesAndChunks")
    void paradigmsAgreeWhenContinuingFromAState(String name, RetNetConfig cfg, int chunk) {
        agreeFromAState(name, cfg, chunk, Normalisation.EXACT);
        agreeFromAState(name + " eps 0", noEps(cfg), chunk, Normalisation.TORCHSCALE);
    }

    private static void agreeFromAState(String name, RetNetConfig cfg, int chunk, Normalisation norm) {
        try (RetNetModel m = RandomRetNets.model(cfg, 12, chunk)) {
            ModelState primed = m.zeroState();
            m.forward(primed, tokens(41, cfg.vocab(), 2), false);
            int[] prompt = tokens(17, cfg.vocab(), 3);
            ModelState rs = primed.copy();
            float[][] recurrent = m.logitsAll(rs, prompt, Paradigm.RECURRENT);
            for (Paradigm p : List.of(Paradigm.PARALLEL, Paradigm.CHUNKWISE)) {
                ModelState s = primed.copy();
                float[][] got = m.logitsAll(s, prompt, p, norm);
                for (int t = 0; t < prompt.length; t++) assertClose(name + " " + p + " row " + t, recurrent[t], got[t]);
                assertStatesClose(name + " " + p, rs, s);
                assertEquals(41 + 17, s.position());
            }
        }
    }

    /** The API's {@code parent}: reading doc then prompt from doc's state equals reading doc+prompt in one call. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void primingDocAndPromptInOneCallEqualsDocThenPrompt(String name, RetNetConfig cfg) {
        try (RetNetModel m = RandomRetNets.model(cfg, 13, 0)) {
            int[] doc = tokens(3 * cfg.chunkSize() + 2, cfg.vocab(), 4), prompt = tokens(cfg.chunkSize() + 3, cfg.vocab(), 5);
            int[] both = new int[doc.length + prompt.length];
            System.arraycopy(doc, 0, both, 0, doc.length);
            System.arraycopy(prompt, 0, both, doc.length, prompt.length);
            ModelState once = m.zeroState();
            float[] x = m.forward(once, both, true);
            ModelState parent = m.zeroState();
            m.forward(parent, doc, false);
            float[] y = m.forward(parent, prompt, true);
            assertClose(name + " last logits", x, y);
            assertStatesClose(name, once, parent);
            assertEquals(both.length, parent.position());
        }
    }

    /**
     * Overflow safety: 100,000 tokens (γ^-j would overflow float32 after ~2,800) prime without inf or NaN, the scale
     * saturates at (1-γ^T)/(1-γ), and priming the document in two halves (the second continuing from the first's
     * state, with chunk boundaries shifted) gives the same state and logits.
     */
    @Test
    void hundredThousandTokensPrimeWithoutOverflowAndEqualTwoHalves() {
        RetNetConfig tiny = RandomRetNets.config(16, 16, 2, 16, 1, RetNetConfig.Activation.SWISH, true, false, 32, 2048);
        try (RetNetModel m = RandomRetNets.model(tiny, 14, 0)) {
            int n = 100_000, half = 50_000 + 3;
            int[] doc = tokens(n, tiny.vocab(), 6);
            ModelState whole = m.zeroState();
            float[] x = m.forward(whole, doc, true);
            ModelState halves = m.zeroState();
            m.forward(halves, java.util.Arrays.copyOfRange(doc, 0, half), false);
            float[] y = m.forward(halves, java.util.Arrays.copyOfRange(doc, half, n), true);
            for (StateTensor t : whole.tensors()) {
                for (float f : t.data()) assertTrue(Float.isFinite(f), t.name() + " holds " + f);
            }
            for (float f : x) assertTrue(Float.isFinite(f), "logits hold " + f);
            assertClose("logits after 100k tokens, whole vs halves", x, y);
            assertStatesClose("100k whole vs halves", whole, halves);
            assertEquals(n, whole.position());
            float[] scale = ((RetNetState) whole).scale(0);
            assertEquals(32f, scale[0], 1e-3f, "head 0 saturates at 1/(1-γ) = 2^5");
            assertEquals(64f, scale[1], 1e-3f, "head 1 saturates at 2^6");
            // and generation goes on from there
            float[] next = m.forward(whole, new int[] {5}, true);
            for (float f : next) assertTrue(Float.isFinite(f));
        }
    }

    /**
     * Re-basing (what combine does to a shorter document) is exact: a state re-based by δ equals the state of the
     * same tokens read starting at position δ, and so do the logits that follow.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void rebasingEqualsReadingTheSameTokensLater(String name, RetNetConfig cfg) {
        try (RetNetModel m = RandomRetNets.model(cfg, 15, 0)) {
            int[] doc = tokens(19, cfg.vocab(), 7), other = tokens(26, cfg.vocab(), 8);
            ModelState early = m.zeroState(), longer = m.zeroState();
            m.forward(early, doc, false);
            m.forward(longer, other, false);
            // weight 0 on the longer document: the result is doc's state re-based to P = 26
            ModelState rebased = m.combine(List.of(early, longer), new double[] {1, 0});
            ModelState late = startingAt(m, 26 - 19);
            m.forward(late, doc, false);
            assertStatesClose(name + " re-based vs read later", late, rebased);
            assertEquals(26, rebased.position());
            assertClose(name + " logits", m.forward(late, new int[] {3, 4}, true), m.forward(rebased, new int[] {3, 4}, true));
        }
    }

    /** combine = the weighted mean of the states each document would have had if it ended at P = max(pos). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void combineIsTheWeightedMeanOfStatesAlignedToTheLatestPosition(String name, RetNetConfig cfg) {
        try (RetNetModel m = RandomRetNets.model(cfg, 16, 0)) {
            int[][] docs = {tokens(9, cfg.vocab(), 9), tokens(30, cfg.vocab(), 10), tokens(17, cfg.vocab(), 11)};
            double[] w = {0.2, 0.3, 0.5};
            List<ModelState> states = new ArrayList<>();
            List<ModelState> aligned = new ArrayList<>();
            for (int[] d : docs) {
                ModelState s = m.zeroState();
                m.forward(s, d, false);
                states.add(s);
                ModelState a = startingAt(m, 30 - d.length);
                m.forward(a, d, false);
                aligned.add(a);
            }
            ModelState got = m.combine(states, w);
            assertEquals(30, got.position());
            for (int i = 0; i < got.tensors().size(); i++) {
                float[] want = new float[got.tensors().get(i).data().length];
                for (int s = 0; s < aligned.size(); s++) {
                    float[] a = aligned.get(s).tensors().get(i).data();
                    for (int j = 0; j < want.length; j++) want[j] += (float) w[s] * a[j];
                }
                assertClose(name + " " + got.tensors().get(i).name(), want, got.tensors().get(i).data());
            }
        }
    }

    @Test
    void stateOfChecksNamesShapesAndCount() {
        try (RetNetModel m = RandomRetNets.model(B, 17, 0)) {
            List<StateTensor> good = m.zeroState().tensors();
            assertEquals(6, good.size());
            assertThrows(IllegalArgumentException.class, () -> m.stateOf(good.subList(0, 5), 0));
            List<StateTensor> renamed = new ArrayList<>(good);
            renamed.set(1, new StateTensor("0.scales", good.get(1).shape(), good.get(1).data()));
            assertThrows(IllegalArgumentException.class, () -> m.stateOf(renamed, 0));
            List<StateTensor> reshaped = new ArrayList<>(good);
            StateTensor kv = good.get(0);
            reshaped.set(0, new StateTensor("0.kv", new int[] {kv.shape()[0] * kv.shape()[1], kv.shape()[2]}, kv.data()));
            assertThrows(IllegalArgumentException.class, () -> m.stateOf(reshaped, 0));
            assertThrows(IllegalArgumentException.class, () -> m.stateOf(good, -1));
            assertThrows(IllegalArgumentException.class, () -> m.forward(m.zeroState(), new int[] {1, 61}, false));
        }
    }

    /** An empty state positioned at p: reading tokens from it is reading them at positions p, p+1, ... */
    private static ModelState startingAt(RetNetModel m, long p) {
        return m.stateOf(m.zeroState().tensors(), p);
    }

    private static int[] tokens(int n, int vocab, long seed) {
        return new Random(seed).ints(n, 0, vocab).toArray();
    }

    private static void assertStatesClose(String what, ModelState want, ModelState got) {
        assertEquals(want.position(), got.position(), what + " pos");
        for (int i = 0; i < want.tensors().size(); i++) {
            StateTensor w = want.tensors().get(i), g = got.tensors().get(i);
            assertEquals(w.name(), g.name());
            assertArrayEquals(w.shape(), g.shape());
            assertClose(what + " state " + w.name(), w.data(), g.data());
        }
    }
}
