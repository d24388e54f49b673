package io.engram.model.rwkv7;

import static io.engram.testsupport.Fixtures.assertClose;
import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.Fixtures.row;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.demo.DemoModel;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The NDArray-only path ({@link Rwkv7Device}, {@link ChunkedWkv}: what a GPU runs), forced onto the CPU engine by
 * switching the Java kernels off. Tolerance everywhere: the oracle's |got-want| <= 1e-4 + 1e-4 max|want|.
 */
class Rwkv7DevicePathTest {

    @TempDir
    Path tmp;

    /** The oracle's seq case through the token-by-token WKV and through chunk lengths that do not divide 24. */
    @Test
    void oracleWithEveryWkvChunkLength() {
        Checkpoint vectors = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.vectors.safetensors"));
        JsonNode meta = Fixtures.json("oracle/rwkv7_a.vectors.json");
        int[] tokens = ints(meta.get("seq").get("tokens"));
        float[] want = vectors.get("seq.logits").toFloatArray();
        try (vectors; Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            for (int wkv : new int[] {1, 3, 7, 16, 24, 32}) {
                try (Rwkv7Model m = new Rwkv7Model(w, Fixtures.device(), 64, false, wkv)) {
                    ModelState s = m.zeroState();
                    float[] last = m.forward(s, tokens, true);
                    assertClose("wkv chunk " + wkv + " last logits", row(want, 256, tokens.length - 1), last);
                    for (StateTensor t : s.tensors()) {
                        assertClose("wkv chunk " + wkv + " " + t.name(),
                                vectors.get("seq.final_state." + t.name()).toFloatArray(), t.data());
                    }
                }
            }
        }
    }

    /** A wider random model over a long document: chunked WKV == token-by-token WKV == the Java CPU path. */
    @Test
    void chunkedEqualsTokenByTokenAndTheCpuPath() throws Exception {
        DemoModel.write(tmp, Rwkv7Config.of(2, 128, 32, 512, 256, 8, 8, 4, 16), 11);
        int[] doc = new Random(3).ints(150, 0, 512).toArray();
        try (Checkpoint ck = Checkpoints.open(tmp.resolve("model.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            compareToTokenByToken(w, doc, "random");
        }
    }

    /**
     * The strongest decay the model allows (w -> 0.5452 everywhere): the factored products 1/W reach 0.5452^-64,
     * the worst case for the chunked form's precision.
     */
    @Test
    void chunkedHoldsAtTheStrongestDecay() throws Exception {
        DemoModel.write(tmp, Rwkv7Config.of(2, 128, 32, 512, 256, 8, 8, 4, 16), 12);
        int[] doc = new Random(4).ints(130, 0, 512).toArray();
        try (Checkpoint ck = Checkpoints.open(tmp.resolve("model.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            for (Rwkv7Weights.Layer layer : w.layers) Arrays.fill(layer.w0, 30f);   // sigmoid -> 1
            compareToTokenByToken(w, doc, "strongest decay");
        }
    }

    private static void compareToTokenByToken(Rwkv7Weights w, int[] doc, String what) {
        try (Rwkv7Model ref = new Rwkv7Model(w, Fixtures.device(), 64, false, 1);
             Rwkv7Model cpu = new Rwkv7Model(w, Fixtures.device(), 64, true)) {
            ModelState want = ref.zeroState();
            float[] wantLogits = ref.forward(want, doc, true);
            ModelState onCpu = cpu.zeroState();
            assertClose(what + ": Java CPU path vs token-by-token", wantLogits, cpu.forward(onCpu, doc, true));
            assertStates(what + ": Java CPU path", want, onCpu);
            for (int wkv : new int[] {8, 16, 32, 64}) {
                try (Rwkv7Model m = new Rwkv7Model(w, Fixtures.device(), 64, false, wkv)) {
                    ModelState s = m.zeroState();
                    assertClose(what + ": wkv chunk " + wkv + " logits", wantLogits, m.forward(s, doc, true));
                    assertStates(what + ": wkv chunk " + wkv, want, s);
                    assertEquals(doc.length, s.position());
                }
            }
        }
    }

    /** B sequences with different histories decoded in one step == each decoded alone, on the NDArray path. */
    @Test
    void batchedDecodeEqualsUnbatched() throws Exception {
        DemoModel.write(tmp, Rwkv7Config.of(2, 128, 32, 512, 256, 8, 8, 4, 16), 13);
        try (Checkpoint ck = Checkpoints.open(tmp.resolve("model.safetensors"));
             Rwkv7Model m = new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 16, false)) {
            Random rnd = new Random(6);
            int b = 6;
            List<ModelState> batched = new ArrayList<>(), alone = new ArrayList<>();
            for (int i = 0; i < b; i++) {
                ModelState s = m.zeroState();
                m.forward(s, rnd.ints(5 + 7 * i, 0, 512).toArray(), false);
                batched.add(s);
                alone.add(s.copy());
            }
            int live = m.liveArrays() - m.residentStates();                  // weights; each resident state is one array
            for (int step = 0; step < 4; step++) {
                int[] tokens = rnd.ints(b, 0, 512).toArray();
                float[][] together = m.step(batched, tokens);
                for (int i = 0; i < b; i++) {
                    float[] one = m.forward(alone.get(i), new int[] {tokens[i]}, true);
                    assertClose("step " + step + " sequence " + i, one, together[i]);
                }
            }
            assertEquals(live, m.liveArrays() - m.residentStates(), "NDArrays alive after batched steps");
            for (int i = 0; i < b; i++) {
                assertStates("sequence " + i, alone.get(i), batched.get(i));
                assertEquals(alone.get(i).position(), batched.get(i).position());
            }
        }
    }

    /**
     * States kept on the device between calls (capacity 2, five sequences, so they are evicted and come back all
     * the time) give the same logits and states as a model that moves every state up and back per call; reading
     * a state (tensors, copy, combine) or closing the model brings it home.
     */
    @Test
    void residentStatesEqualHostStates() throws Exception {
        DemoModel.write(tmp, Rwkv7Config.of(2, 128, 32, 512, 256, 8, 8, 4, 16), 14);
        try (Checkpoint ck = Checkpoints.open(tmp.resolve("model.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            Rwkv7Model kept = new Rwkv7Model(w, Fixtures.device(), 16, false, 16, 2);
            try (Rwkv7Model host = new Rwkv7Model(w, Fixtures.device(), 16, false, 16, 0)) {
                Random rnd = new Random(8);
                int b = 5;
                List<ModelState> a = new ArrayList<>(), h = new ArrayList<>();
                for (int i = 0; i < b; i++) {
                    int[] doc = rnd.ints(9 + 4 * i, 0, 512).toArray();
                    a.add(kept.zeroState());
                    h.add(host.zeroState());
                    assertClose("priming " + i, host.forward(h.get(i), doc, true), kept.forward(a.get(i), doc, true));
                }
                assertEquals(2, kept.residentStates(), "at most the capacity stays on the device");
                assertEquals(0, host.residentStates());
                for (int step = 0; step < 3; step++) {
                    int[] tokens = rnd.ints(b, 0, 512).toArray();
                    for (int i = 0; i < b; i++) {
                        int[] one = {tokens[i]};
                        assertClose("step " + step + " seq " + i, host.forward(h.get(i), one, true), kept.forward(a.get(i), one, true));
                    }
                    float[][] x = host.step(h.subList(1, 4), Arrays.copyOfRange(tokens, 1, 4));
                    float[][] y = kept.step(a.subList(1, 4), Arrays.copyOfRange(tokens, 1, 4));
                    for (int i = 0; i < 3; i++) assertClose("batched step " + step + " row " + i, x[i], y[i]);
                }
                ModelState copy = a.get(2).copy();                                       // comes home, stays equal
                assertStates("copy", h.get(2), copy);
                assertStates("after copy", h.get(2), a.get(2));
                assertStates("combine", host.combine(h.subList(0, 2), new double[] {0.5, 0.5}),
                        kept.combine(a.subList(0, 2), new double[] {0.5, 0.5}));
                int[] more = {7, 8, 9};
                host.forward(h.get(3), more, false);
                kept.forward(a.get(3), more, false);                                     // resident again
                assertEquals(true, kept.residentStates() > 0);
                kept.close();                                                            // brings them home
                for (int i = 0; i < b; i++) {
                    assertStates("after close, sequence " + i, h.get(i), a.get(i));
                    assertEquals(h.get(i).position(), a.get(i).position());
                }
            }
        }
    }

    private static void assertStates(String what, ModelState want, ModelState got) {
        List<StateTensor> x = want.tensors(), y = got.tensors();
        for (int t = 0; t < x.size(); t++) assertClose(what + " " + x.get(t).name(), x.get(t).data(), y.get(t).data());
    }
}
