package io.engram.model.rwkv7;

import static io.engram.testsupport.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.demo.DemoModel;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batched decode (B sequences in one step) equals decoding each sequence alone, within fp32 tolerance. */
class Rwkv7BatchDecodeTest {

    @TempDir
    Path tmp;

    @Test
    void oracleCheckpoint() {
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"));
             Rwkv7Model m = new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 16, true)) {
            check(m, 7);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void widerRandomCheckpoint(boolean javaChunks) throws Exception {
        DemoModel.write(tmp, Rwkv7Config.of(2, 128, 32, 512, 256, 8, 8, 4, 16), 3);
        try (Checkpoint ck = Checkpoints.open(tmp.resolve("model.safetensors"));
             Rwkv7Model m = Fixtures.withJavaChunks(javaChunks, () -> new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 32, true))) {
            check(m, 9);                                   // the Java kernels' rows (<= Rwkv7Model.HOST_ROWS)
            check(m, Rwkv7Model.HOST_ROWS + 4);            // beyond: the Java kernels' wide rows, or DJL's products
        }
    }

    private static void check(Rwkv7Model m, int b) {
        Random rnd = new Random(5);
        int vocab = m.vocabSize();
        List<ModelState> batched = new ArrayList<>(), alone = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            ModelState s = m.zeroState();
            m.forward(s, rnd.ints(3 + i, 0, vocab).toArray(), false); // different histories
            batched.add(s);
            alone.add(s.copy());
        }
        for (int step = 0; step < 4; step++) {
            int[] tokens = rnd.ints(b, 0, vocab).toArray();
            float[][] together = m.step(batched, tokens);
            for (int i = 0; i < b; i++) {
                float[] one = m.forward(alone.get(i), new int[] {tokens[i]}, true);
                assertClose("step " + step + " sequence " + i + " logits", one, together[i]);
            }
        }
        for (int i = 0; i < b; i++) {
            List<StateTensor> x = batched.get(i).tensors(), y = alone.get(i).tensors();
            for (int t = 0; t < x.size(); t++) assertClose("state " + x.get(t).name(), y.get(t).data(), x.get(t).data());
            assertEquals(alone.get(i).position(), batched.get(i).position());
        }
    }
}
