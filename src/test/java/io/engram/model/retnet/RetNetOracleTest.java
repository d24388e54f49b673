package io.engram.model.retnet;

import static io.engram.testsupport.Fixtures.argmax;
import static io.engram.testsupport.Fixtures.assertClose;
import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.Fixtures.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.state.StateCodec;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * RetNet against torchscale's vectors ({@code shared/oracle/retnet_a.*}), at the oracle's tolerance
 * |got-want| <= 1e-4 + 1e-4 max|want| per tensor, with greedy tokens exact. Each paradigm is checked against the
 * vector of its own paradigm; every check runs on the safetensors checkpoint (config from its metadata) and on the
 * {@code .pth} one (config from the vectors' json, as a config.json would give it).
 */
class RetNetOracleTest {

    static final int V = 256;
    static Checkpoint vectors;
    static JsonNode meta;
    static RetNetModel fromSafetensors, fromPth;

    @BeforeAll
    static void load() {
        vectors = Checkpoints.open(Fixtures.shared("oracle/retnet_a.vectors.safetensors"));
        meta = Fixtures.json("oracle/retnet_a.vectors.json");
        @SuppressWarnings("unchecked")
        Map<String, Object> config = JsonMapper.builder().build().convertValue(meta.get("config"), Map.class);
        try (Checkpoint st = Checkpoints.open(Fixtures.shared("oracle/retnet_a.safetensors"));
             Checkpoint pth = Checkpoints.open(Fixtures.shared("oracle/retnet_a.fp32.pth"))) {
            fromSafetensors = new RetNetModel(RetNetWeights.read(st, RetNetConfig.from(Map.of(), st.metadata())), Fixtures.device(), 0);
            fromPth = new RetNetModel(RetNetWeights.read(pth, RetNetConfig.from(config)), Fixtures.device(), 0);
        }
    }

    @AfterAll
    static void close() {
        Stream.of(fromSafetensors, fromPth).forEach(RetNetModel::close);
        vectors.close();
    }

    static Stream<Arguments> models() {
        return Stream.of(Arguments.of("safetensors", fromSafetensors), Arguments.of("pth", fromPth));
    }

    @Test
    void configComesFromTheCheckpointMetadata() {
        assertEquals(new RetNetConfig(64, 128, 4, 128, 2, RetNetConfig.Activation.SWISH, true, false, 1e-6f, 256, 8),
                fromSafetensors.config());
        assertEquals(fromSafetensors.config(), fromPth.config());
        StateTensor kv = fromSafetensors.zeroState().tensors().get(0);
        assertEquals("0.kv", kv.name());
        assertArrayEquals(new int[] {4, 32, 16}, kv.shape());
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("models")
    void recurrentLogitsAfterEveryTokenAndStates(String name, RetNetModel m) {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        float[] want = vectors.get("seq.logits").toFloatArray();
        ModelState s = m.zeroState();
        for (int t = 0; t < tokens.length; t++) {
            float[] logits = m.forward(s, new int[] {tokens[t]}, true); // one token: recurrent
            assertClose(name + " recurrent logits after token " + t, row(want, V, t), logits);
            assertEquals(meta.get("seq").get("argmax_per_step").get(t).asInt(), argmax(logits), "argmax at " + t);
            if (t == 0) assertState(name + " state_after_1", "seq.state_after_1", s);
        }
        assertState(name + " final", "seq.final_state", s);
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("models")
    void parallelLogitsAgainstTorchscaleParallel(String name, RetNetModel m) {
        checkParadigm(name, m, Paradigm.PARALLEL, Normalisation.TORCHSCALE, "seq.logits_parallel");
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("models")
    void chunkwiseLogitsAgainstTorchscaleChunkwise(String name, RetNetModel m) {
        // 22 tokens in chunks of 8: the last chunk is partial
        checkParadigm(name, m, Paradigm.CHUNKWISE, Normalisation.TORCHSCALE, "seq.logits_chunkwise");
    }

    /** With the exact normalisation (what the server uses) every paradigm gives the recurrent logits. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("models")
    void everyParadigmWithExactNormalisationGivesTheRecurrentLogits(String name, RetNetModel m) {
        for (Paradigm p : Paradigm.values()) checkParadigm(name, m, p, Normalisation.EXACT, "seq.logits");
    }

    private void checkParadigm(String name, RetNetModel m, Paradigm p, Normalisation norm, String vector) {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        float[] want = vectors.get(vector).toFloatArray();
        ModelState s = m.zeroState();
        float[][] logits = m.logitsAll(s, tokens, p, norm);
        for (int t = 0; t < tokens.length; t++) {
            assertClose(name + " " + p + " logits after token " + t, row(want, V, t), logits[t]);
            assertEquals(meta.get("seq").get("argmax_per_step").get(t).asInt(), argmax(logits[t]), p + " argmax at " + t);
        }
        // torchscale's parallel and chunkwise paths fill no state: ours leave the recurrent one
        assertState(name + " " + p + " final", "seq.final_state", s);
    }

    @Test
    void primingWithoutLogitsLeavesTheSameState() {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        ModelState s = fromSafetensors.zeroState();
        assertEquals(null, fromSafetensors.forward(s, tokens, false));
        assertState("priming", "seq.final_state", s);
        ModelState one = fromSafetensors.zeroState();
        fromSafetensors.forward(one, new int[] {tokens[0]}, false);
        assertState("one token", "seq.state_after_1", one);
    }

    /** {@code combo0} (equal lengths) and {@code combo1.aligned_variant}: the adopted convention. */
    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("models")
    void combineByTheAdoptedConventionThenGreedy(String name, RetNetModel m) {
        for (JsonNode combo : meta.get("combos")) {
            String c = combo.get("name").asText();
            ModelState a = m.zeroState(), b = m.zeroState();
            assertClose(name + " " + c + " logits_a_last", vectors.get(c + ".logits_a_last").toFloatArray(),
                    m.forward(a, ints(combo.get("doc_a")), true));
            assertClose(name + " " + c + " logits_b_last", vectors.get(c + ".logits_b_last").toFloatArray(),
                    m.forward(b, ints(combo.get("doc_b")), true));
            assertState(name + " " + c + " state_a", c + ".state_a", a);
            assertState(name + " " + c + " state_b", c + ".state_b", b);

            JsonNode aligned = combo.get("aligned_variant");
            String meanName = aligned == null ? c + ".mean_state" : c + ".aligned_mean_state";
            String logitsName = aligned == null ? c + ".logits" : c + ".aligned_logits";
            JsonNode expected = aligned == null ? combo : aligned;

            ModelState aBefore = a.copy();
            ModelState mean = m.combine(List.of(a, b), new double[] {0.25, 0.75});
            assertState(name + " " + meanName, meanName, mean);
            assertArrayEquals(aBefore.tensors().get(0).data(), a.tensors().get(0).data(), "combine leaves its inputs alone");
            assertEquals(aBefore.position(), a.position());
            greedy(name + " " + c, m, mean, ints(combo.get("query")), vectors.get(logitsName).toFloatArray(),
                    ints(expected.get("generated")));
        }
    }

    /**
     * For contrast, {@code combo1}'s plain elementwise mean (pos = 18) fed through the same recurrent path gives the
     * oracle's plain-mean tokens, and they differ from the adopted convention's.
     */
    @Test
    void plainMeanWithAveragedPositionReproducesTheContrastCase() {
        RetNetModel m = fromSafetensors;
        JsonNode combo = meta.get("combos").get(1);
        ModelState a = m.zeroState(), b = m.zeroState();
        m.forward(a, ints(combo.get("doc_a")), false);
        m.forward(b, ints(combo.get("doc_b")), false);
        List<StateTensor> mean = new ArrayList<>();
        for (int i = 0; i < a.tensors().size(); i++) {
            StateTensor x = a.tensors().get(i), y = b.tensors().get(i);
            float[] d = new float[x.data().length];
            for (int j = 0; j < d.length; j++) d[j] = 0.25f * x.data()[j] + 0.75f * y.data()[j];
            mean.add(new StateTensor(x.name(), x.shape(), d));
        }
        ModelState plain = m.stateOf(mean, 18);
        assertState("combo1 plain mean", "combo1.mean_state", plain);
        int[] generated = greedy("combo1 plain", m, plain, ints(combo.get("query")),
                vectors.get("combo1.logits").toFloatArray(), ints(combo.get("generated")));
        assertNotEquals(ints(combo.get("aligned_variant").get("generated"))[0], generated[0]);
    }

    @Test
    void stateRoundTripsThroughTensorsBitExactly() {
        RetNetModel m = fromSafetensors;
        ModelState s = m.zeroState();
        m.forward(s, ints(meta.get("seq").get("tokens")), false);
        RetNetState copy = m.stateOf(s.tensors(), s.position());
        assertEquals(s.position(), copy.position());
        for (int step = 0; step < 3; step++) {
            float[] x = m.forward(s, new int[] {7 + step}, true);
            float[] y = m.forward(copy, new int[] {7 + step}, true);
            assertArrayEquals(x, y, "a state rebuilt from its tensors gives bit-identical logits");
        }
        float[] x = m.forward(s, new int[] {1, 2, 3, 4, 5}, true);
        float[] y = m.forward(copy, new int[] {1, 2, 3, 4, 5}, true);
        assertArrayEquals(x, y, "and bit-identical chunkwise priming");
    }

    /** Through the blob codec (position carried separately), a combined state decodes to bit-identical logits. */
    @Test
    void combinedStateRoundTripsThroughTheBlobCodecBitExactly() {
        RetNetModel m = fromSafetensors;
        JsonNode combo = meta.get("combos").get(1);
        ModelState a = m.zeroState(), b = m.zeroState();
        m.forward(a, ints(combo.get("doc_a")), false);
        m.forward(b, ints(combo.get("doc_b")), false);
        ModelState mean = m.combine(List.of(a, b), new double[] {0.25, 0.75});
        byte[] blob = StateCodec.encode("sha256:test", mean, null);
        ModelState back = StateCodec.decode(blob, "sha256:test", m).state();
        assertEquals(20, back.position());
        int[] query = ints(combo.get("query"));
        float[] x = m.forward(mean, query, true), y = m.forward(back, query, true);
        assertArrayEquals(x, y);
        assertArrayEquals(m.forward(mean, new int[] {argmax(x)}, true), m.forward(back, new int[] {argmax(y)}, true));
    }

    /** Feeds the query, then 5 greedy steps; checks each row of logits and the generated tokens. */
    private static int[] greedy(String what, RetNetModel m, ModelState s, int[] query, float[] want, int[] wantTokens) {
        int[] generated = new int[5];
        float[] logits = m.forward(s, query, true);
        for (int i = 0; i < 6; i++) {
            assertClose(what + " logits row " + i, row(want, V, i), logits);
            if (i == 5) break;
            generated[i] = argmax(logits);
            logits = m.forward(s, new int[] {generated[i]}, true);
        }
        assertArrayEquals(wantTokens, generated, what + " greedy tokens");
        return generated;
    }

    private static void assertState(String what, String prefix, ModelState s) {
        for (StateTensor t : s.tensors()) {
            assertClose(what + " " + t.name(), vectors.get(prefix + "." + t.name()).toFloatArray(), t.data());
        }
        assertEquals((long) vectors.get(prefix + ".pos").toFloatArray()[0], s.position(), what + " pos");
    }
}
