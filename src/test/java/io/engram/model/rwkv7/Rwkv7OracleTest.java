package io.engram.model.rwkv7;

import static io.engram.testsupport.Fixtures.argmax;
import static io.engram.testsupport.Fixtures.assertClose;
import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.Fixtures.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * RWKV-7 against the official reference's vectors ({@code shared/oracle/rwkv7_a.*}), at the oracle's tolerance
 * |got-want| <= 1e-4 + 1e-4 max|want| per tensor, with greedy tokens exact. Each check runs on both paths: the
 * DJL chunked forward and the Java single-token decoder.
 */
class Rwkv7OracleTest {

    static Checkpoint vectors;
    static JsonNode meta;
    static Rwkv7Model djl, cpu, chunk5, cpuChunk5, fromPth;

    @BeforeAll
    static void load() {
        vectors = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.vectors.safetensors"));
        meta = Fixtures.json("oracle/rwkv7_a.vectors.json");
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"));
             Checkpoint pth = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.fp32.pth"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            djl = new Rwkv7Model(w, Fixtures.device(), 64, false);
            cpu = new Rwkv7Model(w, Fixtures.device(), 64, true);
            chunk5 = new Rwkv7Model(w, Fixtures.device(), 5, false);
            cpuChunk5 = new Rwkv7Model(w, Fixtures.device(), 5, true);
            fromPth = new Rwkv7Model(Rwkv7Weights.read(pth), Fixtures.device(), 64, true);
        }
    }

    @AfterAll
    static void close() {
        Stream.of(djl, cpu, chunk5, cpuChunk5, fromPth).forEach(Rwkv7Model::close);
        vectors.close();
    }

    static Stream<Arguments> paths() {
        return Stream.of(Arguments.of("djl", djl), Arguments.of("cpu", cpu), Arguments.of("pth", fromPth));
    }

    @Test
    void shapesComeFromTheCheckpoint() {
        Rwkv7Config c = djl.config();
        assertEquals(new Rwkv7Config(2, 64, 4, 16, 256, 256, 16, 16, 8, 32), c);
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("paths")
    void logitsAfterEveryTokenAndFinalState(String name, Rwkv7Model m) {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        float[] want = vectors.get("seq.logits").toFloatArray();
        ModelState s = m.zeroState();
        for (int t = 0; t < tokens.length; t++) {
            float[] logits = m.forward(s, new int[] {tokens[t]}, true);
            assertClose(name + " logits after token " + t, row(want, 256, t), logits);
            assertEquals(meta.get("seq").get("argmax_per_step").get(t).asInt(), argmax(logits), "argmax at " + t);
            if (t == 0) assertState(name + " state_after_1", "seq.state_after_1", s);
        }
        assertState(name + " final", "seq.final_state", s);
    }

    @Test
    void chunkedPrimingEqualsTokenByToken() {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        float[] want = vectors.get("seq.logits").toFloatArray();
        for (Rwkv7Model m : List.of(djl, chunk5, cpu, cpuChunk5)) {
            ModelState s = m.zeroState();
            float[] last = m.forward(s, tokens, true);
            assertClose("chunked last logits", row(want, 256, tokens.length - 1), last);
            assertState("chunked final state", "seq.final_state", s);
            assertEquals(tokens.length, s.position());
        }
        // and priming without the head leaves the same state
        for (Rwkv7Model m : List.of(chunk5, cpuChunk5)) {
            ModelState s = m.zeroState();
            assertEquals(null, m.forward(s, tokens, false));
            assertState("no-logits priming", "seq.final_state", s);
        }
    }

    @Test
    void forwardPassesReleaseEveryNativeArray() {
        int[] tokens = ints(meta.get("seq").get("tokens"));
        for (Rwkv7Model m : List.of(chunk5, cpuChunk5)) {
            ModelState s = m.zeroState();
            m.forward(s, tokens, true);
            int live = m.liveArrays();
            for (int i = 0; i < 20; i++) {
                m.forward(s, tokens, true);
                m.forward(s, new int[] {tokens[i % tokens.length]}, true);
            }
            assertEquals(live, m.liveArrays(), "NDArrays alive after 20 more chunked passes and steps");
        }
    }

    @ParameterizedTest(name = "{0}", autoCloseArguments = false)
    @MethodSource("paths")
    void weightedMeanOfTwoDocumentsThenGreedy(String name, Rwkv7Model m) {
        for (JsonNode combo : meta.get("combos")) {
            String c = combo.get("name").asText();
            ModelState a = m.zeroState(), b = m.zeroState();
            m.forward(a, ints(combo.get("doc_a")), true);
            m.forward(b, ints(combo.get("doc_b")), true);
            assertState(name + " " + c + " state_a", c + ".state_a", a);
            assertState(name + " " + c + " state_b", c + ".state_b", b);
            ModelState mean = m.combine(List.of(a, b), new double[] {0.25, 0.75});
            assertState(name + " " + c + " mean", c + ".mean_state", mean);

            float[] want = vectors.get(c + ".logits").toFloatArray();
            int[] fed = ints(combo.get("fed_tokens"));
            int[] generated = new int[5];
            float[] logits = m.forward(mean, ints(combo.get("query")), true);
            for (int i = 0; i < 6; i++) {
                assertClose(name + " " + c + " logits row " + i, row(want, 256, i), logits);
                if (i == 5) break;
                generated[i] = argmax(logits);
                logits = m.forward(mean, new int[] {generated[i]}, true);
            }
            assertArrayEquals(ints(combo.get("generated")), generated, name + " " + c + " greedy tokens");
            assertEquals(fed[1], generated[0]);
        }
    }

    @Test
    void stateRoundTripsThroughTensors() {
        ModelState s = cpu.zeroState();
        cpu.forward(s, new int[] {1, 2, 3}, true);
        Rwkv7State copy = cpu.stateOf(s.tensors(), s.position());
        float[] x = cpu.forward(s, new int[] {4}, true);
        float[] y = cpu.forward(copy, new int[] {4}, true);
        assertArrayEquals(x, y, "a state rebuilt from its tensors gives bit-identical logits");
    }

    private static void assertState(String what, String prefix, ModelState s) {
        for (StateTensor t : s.tensors()) {
            assertClose(what + " " + t.name(), vectors.get(prefix + "." + t.name()).toFloatArray(), t.data());
        }
    }
}
