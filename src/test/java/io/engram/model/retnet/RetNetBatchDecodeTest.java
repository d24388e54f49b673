package io.engram.model.retnet;

import static io.engram.testsupport.Fixtures.argmax;
import static io.engram.testsupport.Fixtures.assertClose;
import static io.engram.testsupport.Fixtures.ints;
import static io.engram.testsupport.Fixtures.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * RetNet's batched decode step (rows = sequences, each at its own position; kv as NDArrays for the whole pass)
 * against the oracle and against each sequence decoded alone. Tolerance: |got-want| <= 1e-4 + 1e-4 max|want|.
 */
class RetNetBatchDecodeTest {

    /** The oracle's seq case fed one token per step through the batched path with B = 1. */
    @Test
    void oracleThroughTheBatchedStep() {
        Checkpoint vectors = Checkpoints.open(Fixtures.shared("oracle/retnet_a.vectors.safetensors"));
        JsonNode meta = Fixtures.json("oracle/retnet_a.vectors.json");
        try (vectors; Checkpoint st = Checkpoints.open(Fixtures.shared("oracle/retnet_a.safetensors"));
             RetNetModel m = new RetNetModel(RetNetWeights.read(st, RetNetConfig.from(Map.of(), st.metadata())), Fixtures.device(), 0)) {
            int[] tokens = ints(meta.get("seq").get("tokens"));
            float[] want = vectors.get("seq.logits").toFloatArray();
            ModelState s = m.zeroState();
            for (int t = 0; t < tokens.length; t++) {
                float[] logits = m.step(List.of(s), new int[] {tokens[t]})[0];
                assertClose("logits after token " + t, row(want, m.vocabSize(), t), logits);
                assertEquals(meta.get("seq").get("argmax_per_step").get(t).asInt(), argmax(logits), "argmax at " + t);
            }
            for (StateTensor t : s.tensors()) {
                assertClose("final " + t.name(), vectors.get("seq.final_state." + t.name()).toFloatArray(), t.data());
            }
            assertEquals(tokens.length, s.position());
        }
    }

    /** Sequences with different histories and positions: one batched step == each one's recurrent step alone. */
    @Test
    void batchedEqualsUnbatched() {
        RetNetConfig cfg = RandomRetNets.config(64, 128, 4, 96, 3, RetNetConfig.Activation.SWISH, false, true, 300, 8);
        try (RetNetModel m = RandomRetNets.model(cfg, 21, 0)) {
            Random rnd = new Random(9);
            int b = 5;
            List<ModelState> batched = new ArrayList<>(), alone = new ArrayList<>();
            for (int i = 0; i < b; i++) {
                ModelState s = m.zeroState();
                m.forward(s, rnd.ints(3 + 6 * i, 0, 300).toArray(), false);              // positions 3, 9, 15, ...
                batched.add(s);
                alone.add(s.copy());
            }
            for (int step = 0; step < 4; step++) {
                int[] tokens = rnd.ints(b, 0, 300).toArray();
                float[][] together = m.step(batched, tokens);
                for (int i = 0; i < b; i++) {
                    float[] one = m.forward(alone.get(i), new int[] {tokens[i]}, true);
                    assertClose("step " + step + " sequence " + i, one, together[i]);
                }
            }
            for (int i = 0; i < b; i++) {
                List<StateTensor> x = alone.get(i).tensors(), y = batched.get(i).tensors();
                for (int t = 0; t < x.size(); t++) assertClose("sequence " + i + " " + x.get(t).name(), x.get(t).data(), y.get(t).data());
                assertEquals(alone.get(i).position(), batched.get(i).position());
            }
        }
    }

    /** A bad token in any row is a user error, and no state of the batch moves. */
    @Test
    void badTokenLeavesEveryStateAlone() {
        RetNetConfig cfg = RandomRetNets.config(32, 64, 2, 64, 2, RetNetConfig.Activation.SWISH, false, false, 100, 4);
        try (RetNetModel m = RandomRetNets.model(cfg, 22, 0)) {
            ModelState a = m.zeroState(), c = m.zeroState();
            m.forward(a, new int[] {1, 2}, false);
            ModelState before = a.copy();
            assertThrows(IllegalArgumentException.class, () -> m.step(List.of(a, c), new int[] {5, 100}));
            assertEquals(before.position(), a.position());
            assertClose("kv untouched", before.tensors().get(0).data(), a.tensors().get(0).data());
        }
    }
}
