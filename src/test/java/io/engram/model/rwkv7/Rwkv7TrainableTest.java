package io.engram.model.rwkv7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.TrainableModel;
import io.engram.model.demo.DemoModel;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.InMemoryCheckpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainable RWKV-7 computes what the serving model computes: same logits, same states, same weighted mean, on
 * the same random weights (tolerance 1e-4 + 1e-4·max|want|, float32 rounding in a different operation order); and
 * its gradients reach every parameter through a mean of separately read documents.
 */
class Rwkv7TrainableTest {

    static final int V = 50;
    @TempDir static Path dir;
    static Rwkv7Model serving;
    static Rwkv7Trainable trainable;
    static NDManager manager;

    @BeforeAll
    static void load() throws Exception {
        DemoModel.write(dir, Rwkv7Config.of(2, 32, 16, V, 64, 8, 8, 8, 8), 11L);
        try (Checkpoint ck = Checkpoints.open(dir.resolve("model.safetensors"))) {
            Rwkv7Weights w = Rwkv7Weights.read(ck);
            serving = new Rwkv7Model(w, Device.cpu(), 64, false);
            trainable = Rwkv7Trainable.create(InMemoryCheckpoint.copyOf(ck), Device.cpu());
        }
        manager = NDManager.newBaseManager(Device.cpu());
    }

    @AfterAll
    static void close() {
        manager.close();
        trainable.close();
        serving.close();
    }

    static int[] tokens(long seed, int n) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(V);
        return t;
    }

    static NDArray batch(NDManager m, int[]... rows) {
        int[] flat = new int[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        return m.create(flat, new Shape(rows.length, rows[0].length));
    }

    static void close(float[] want, float[] got, String what) {
        float max = 0;
        for (float w : want) max = Math.max(max, Math.abs(w));
        double tol = 1e-4 + 1e-4 * max;
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol, what + "[" + i + "]: want " + want[i] + " got " + got[i]);
        }
    }

    /** Serving logits after every token of {@code t}, reading one token at a time from {@code s}. */
    static float[][] servingLogits(ModelState s, int[] t) {
        float[][] out = new float[t.length][];
        for (int i = 0; i < t.length; i++) out[i] = serving.forward(s, new int[] {t[i]}, true);
        return out;
    }

    @Test
    void logitsAndStatesMatchTheServingModel() {
        int[] a = tokens(1, 13), b = tokens(2, 13), a2 = tokens(3, 6), b2 = tokens(4, 6);
        try (NDManager m = manager.newSubManager()) {
            TrainableModel.Step s1 = trainable.forward(batch(m, a, b), trainable.zeroState(m, 2));
            TrainableModel.Step s2 = trainable.forward(batch(m, a2, b2), s1.state());
            int row = 0;
            for (int[][] seq : new int[][][] {{a, a2}, {b, b2}}) {
                ModelState st = serving.zeroState();
                float[][] want1 = servingLogits(st, seq[0]);
                for (int i = 0; i < 13; i++) close(want1[i], s1.logits().get(row, i).toFloatArray(), "row " + row + " token " + i);
                List<StateTensor> wantState = st.tensors();
                for (int j = 0; j < wantState.size(); j++) {
                    close(wantState.get(j).data(), s1.state().tensors().get(j).get(row).toFloatArray(), wantState.get(j).name());
                }
                float[][] want2 = servingLogits(st, seq[1]);
                for (int i = 0; i < 6; i++) close(want2[i], s2.logits().get(row, i).toFloatArray(), "continued row " + row + " token " + i);
                row++;
            }
            assertEquals(19, s2.state().position());
        }
    }

    @Test
    void meanOfStatesMatchesServingCombine() {
        int[][] docs = {tokens(5, 9), tokens(6, 9), tokens(7, 9), tokens(8, 9)};
        int[] q = tokens(9, 5);
        try (NDManager m = manager.newSubManager()) {
            TrainableModel.Step read = trainable.forward(batch(m, docs), trainable.zeroState(m, 4));
            TrainableModel.TrainState mean = trainable.mean(read.state(), 2, new float[] {0.25f, 0.75f});
            TrainableModel.Step ask = trainable.forward(batch(m, q, q), mean);
            for (int g = 0; g < 2; g++) {
                ModelState s0 = serving.zeroState(), s1 = serving.zeroState();
                serving.forward(s0, docs[2 * g], false);
                serving.forward(s1, docs[2 * g + 1], false);
                ModelState c = serving.combine(List.of(s0, s1), new double[] {0.25, 0.75});
                float[][] want = servingLogits(c, q);
                for (int i = 0; i < q.length; i++) close(want[i], ask.logits().get(g, i).toFloatArray(), "group " + g + " token " + i);
            }
        }
    }

    @Test
    void gradientsReachEveryParameterThroughTheMean() {
        int[][] docs = {tokens(10, 9), tokens(11, 9)};
        try (NDManager m = manager.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            TrainableModel.Step read = trainable.forward(batch(m, docs), trainable.zeroState(m, 2));
            TrainableModel.TrainState mean = trainable.mean(read.state(), 2, new float[] {0.5f, 0.5f});
            NDArray loss = trainable.forward(batch(m, tokens(12, 4)), mean).logits().square().mean();
            gc.backward(loss);
            for (Map.Entry<String, NDArray> e : trainable.parameters().entrySet()) {
                float[] g = e.getValue().getGradient().toFloatArray();
                double sum = 0;
                for (float x : g) {
                    assertTrue(Float.isFinite(x), e.getKey());
                    sum += Math.abs(x);
                }
                assertTrue(sum > 0, "no gradient reaches " + e.getKey());
            }
        }
    }
}
