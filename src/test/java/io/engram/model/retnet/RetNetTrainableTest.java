package io.engram.model.retnet;

import static io.engram.testsupport.Fixtures.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.TrainableModel.Step;
import io.engram.model.TrainableModel.TrainState;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.HostTensor;
import io.engram.weights.SafetensorsWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link RetNetTrainable} against the serving {@link RetNetModel} on the same weights (its own {@link
 * RetNetTrainable#checkpoint()} written as safetensors and loaded as the server does): logits and states from the
 * zero state and continuing, the weighted mean of states, and gradients through a read, a mean and a second read.
 * The serving model reads token by token (recurrent); the trainable model reads each chunk as one parallel block.
 * The equivalence tests use {@link RetNetSchema#randomInit}'s random norm weights (not {@link RetNetTrainable#init}'s ones),
 * so that every weight matters.
 */
class RetNetTrainableTest {

    /** dk = 16, dv = 32, 2 heads, 2 layers, FFN 64, vocab 50, swish. */
    static final RetNetConfig SWISH = new RetNetConfig(32, 64, 2, 64, 2, RetNetConfig.Activation.SWISH,
            true, false, 1e-6f, 50, 8);
    /** dk = 8, dv = 8, 3 heads, 1 layer, gelu, embedding scaled by sqrt(D) and RMS-normed. */
    static final RetNetConfig GELU = new RetNetConfig(24, 24, 3, 40, 1, RetNetConfig.Activation.GELU,
            false, true, 1e-6f, 50, 8);

    static Stream<Arguments> configs() {
        return Stream.of(Arguments.of("swish", SWISH), Arguments.of("gelu+layernorm_embedding", GELU));
    }

    @TempDir
    Path tmp;

    /** The serving model on the trainable model's checkpoint, through safetensors. */
    private RetNetModel serving(RetNetTrainable t, RetNetConfig cfg) throws Exception {
        Path file = tmp.resolve("model.safetensors");
        SafetensorsWriter.write(file, t.checkpoint(), Map.of("format", "pt"));
        try (Checkpoint ck = Checkpoints.open(file)) {
            return new RetNetModel(RetNetWeights.read(ck, cfg), Device.cpu(), 0);
        }
    }

    private static int[][] tokens(Random rnd, int rows, int n, int vocab) {
        int[][] out = new int[rows][n];
        for (int[] r : out) for (int i = 0; i < n; i++) r[i] = rnd.nextInt(vocab);
        return out;
    }

    private static NDArray batch(NDManager m, int[][] rows) {
        int n = rows[0].length;
        int[] flat = new int[rows.length * n];
        for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, flat, r * n, n);
        return m.create(flat, new Shape(rows.length, n)); // [B,T] int32
    }

    /** Row r of logits [B,T,V], compared with the serving model's [T][V]. */
    private static void assertLogits(String what, float[][] want, NDArray logits, int r) {
        int n = want.length, v = want[0].length;
        float[] all = logits.toFloatArray();
        float[] w = new float[n * v], g = new float[n * v];
        for (int i = 0; i < n; i++) {
            System.arraycopy(want[i], 0, w, i * v, v);
            System.arraycopy(all, (r * n + i) * v, g, i * v, v);
        }
        assertClose(what, w, g);
    }

    /** Row r of the trainable state against a serving state: kv, scale and position. */
    private static void assertState(String what, ModelState want, TrainState got, int r) {
        assertEquals(want.position(), got.position(), what + ": position");
        List<StateTensor> ts = want.tensors(); // l.kv, l.scale, ...
        for (int l = 0; l < got.tensors().size(); l++) {
            NDArray kv = got.tensors().get(l);
            long per = kv.getShape().size() / kv.getShape().get(0);
            float[] row = java.util.Arrays.copyOfRange(kv.toFloatArray(), (int) (r * per), (int) ((r + 1) * per));
            assertClose(what + " " + ts.get(2 * l).name(), ts.get(2 * l).data(), row);
            assertClose(what + " " + ts.get(2 * l + 1).name(), ts.get(2 * l + 1).data(), got.host()[l]);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void readsAndContinuesLikeTheServingModel(String name, RetNetConfig cfg) throws Exception {
        Random rnd = new Random(7);
        int[][] first = tokens(rnd, 2, 13, cfg.vocab()), second = tokens(rnd, 2, 6, cfg.vocab());
        try (RetNetTrainable t = RetNetTrainable.create(cfg, RetNetSchema.randomInit(cfg, 3), Device.cpu());
             RetNetModel s = serving(t, cfg);
             NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Step a = t.forward(batch(m, first), t.zeroState(m, 2));
            assertEquals(new Shape(2, 13, cfg.vocab()), a.logits().getShape());
            Step b = t.forward(batch(m, second), a.state());
            for (int r = 0; r < 2; r++) {
                ModelState st = s.zeroState();
                assertLogits("row " + r + " first chunk logits", s.logitsAll(st, first[r], Paradigm.RECURRENT), a.logits(), r);
                assertState("row " + r + " state after the first chunk", st, a.state(), r);
                assertLogits("row " + r + " second chunk logits", s.logitsAll(st, second[r], Paradigm.RECURRENT), b.logits(), r);
                assertState("row " + r + " state after the second chunk", st, b.state(), r);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void meanOfStatesIsTheServingCombine(String name, RetNetConfig cfg) throws Exception {
        Random rnd = new Random(11);
        int[][] docs = tokens(rnd, 4, 9, cfg.vocab()), question = tokens(rnd, 2, 5, cfg.vocab());
        double[] weights = {0.25, 0.75};
        try (RetNetTrainable t = RetNetTrainable.create(cfg, RetNetSchema.randomInit(cfg, 5), Device.cpu());
             RetNetModel s = serving(t, cfg);
             NDManager m = NDManager.newBaseManager(Device.cpu())) {
            TrainState read = t.forward(batch(m, docs), t.zeroState(m, 4)).state();
            TrainState mean = t.mean(read, 2, new float[] {0.25f, 0.75f});
            assertEquals(new Shape(2, cfg.heads(), cfg.headValueDim(), cfg.keyDim()), mean.tensors().get(0).getShape());
            Step q = t.forward(batch(m, question), mean);
            for (int g = 0; g < 2; g++) {
                List<ModelState> members = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    ModelState st = s.zeroState();
                    s.logitsAll(st, docs[2 * g + i], Paradigm.RECURRENT);
                    members.add(st);
                }
                ModelState combined = s.combine(members, weights);
                assertState("group " + g + " mean", combined, mean, g);
                assertLogits("group " + g + " question logits", s.logitsAll(combined, question[g], Paradigm.RECURRENT), q.logits(), g);
                assertState("group " + g + " state after the question", combined, q.state(), g);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void gradientsReachEveryParameterThroughTheMean(String name, RetNetConfig cfg) {
        Random rnd = new Random(13);
        int half = cfg.vocab() / 2; // documents use tokens [0, half), the question [half, V)
        int[][] docs = tokens(rnd, 4, 7, half), question = tokens(rnd, 2, 5, half);
        for (int[] r : question) for (int i = 0; i < r.length; i++) r[i] += half;
        try (RetNetTrainable t = RetNetTrainable.create(cfg, RetNetTrainable.init(cfg, 9), Device.cpu());
             NDManager m = NDManager.newBaseManager(Device.cpu())) {
            float[] u = new float[2 * 5 * cfg.vocab()];
            for (int i = 0; i < u.length; i++) u[i] = (float) rnd.nextGaussian();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                TrainState read = t.forward(batch(m, docs), t.zeroState(m, 4)).state();
                TrainState mean = t.mean(read, 2, new float[] {0.25f, 0.75f});
                NDArray logits = t.forward(batch(m, question), mean).logits();             // [2,5,V]
                NDArray loss = logits.mul(m.create(u, logits.getShape())).mean();          // a generic scalar
                gc.backward(loss);
                for (Map.Entry<String, NDArray> e : t.parameters().entrySet()) {
                    float[] grad = e.getValue().getGradient().toFloatArray();
                    boolean nonzero = false;
                    for (float x : grad) {
                        assertTrue(Float.isFinite(x), e.getKey() + ": non-finite gradient");
                        nonzero |= x != 0f;
                    }
                    assertTrue(nonzero, e.getKey() + ": gradient is all zero");
                }
                // the documents' tokens reach the loss only through the mean state: their embedding rows get gradient
                float[] embedGrad = t.parameters().get("embed_tokens.weight").getGradient().toFloatArray();
                for (int[] r : docs) {
                    for (int tok : r) {
                        float norm = 0;
                        for (int c = 0; c < cfg.dim(); c++) norm += Math.abs(embedGrad[tok * cfg.dim() + c]);
                        assertTrue(norm > 0, "no gradient reaches document token " + tok + " through the mean");
                    }
                }
            }
            // every tensor but the two retnet_rel_pos buffers is trained
            assertEquals(cfg.layers() * 10 + 3 + (cfg.layernormEmbedding() ? 1 : 0), t.parameters().size());
        }
    }

    @Test
    void checkpointHoldsEveryTensorWithItsNameAndShape() {
        Map<String, HostTensor> in = RetNetTrainable.init(GELU, 1);
        try (RetNetTrainable t = RetNetTrainable.create(GELU, in, Device.cpu())) {
            Map<String, HostTensor> out = t.checkpoint();
            assertEquals(in.keySet(), out.keySet());
            for (String k : in.keySet()) {
                assertArrayEquals(in.get(k).shape(), out.get(k).shape(), k);
                assertArrayEquals(in.get(k).toFloatArray(), out.get(k).toFloatArray(), k);
            }
            assertFalse(t.parameters().containsKey("retnet_rel_pos.angle"));
            assertFalse(t.parameters().containsKey("retnet_rel_pos.decay"));
            assertTrue(t.parameters().values().stream().allMatch(NDArray::hasGradient));
            assertEquals(GELU.toMap(), t.config());
            assertArrayEquals(new float[] {1f, 1f, 1f}, java.util.Arrays.copyOf(in.get("layer_norm.weight").toFloatArray(), 3));
        }
    }
}
