package io.engram.model.rwkv7;

import static io.engram.model.rwkv7.Rwkv7Schema.*;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.LayerNorm;
import io.engram.model.TrainableModel;
import io.engram.model.ops.Nd;
import io.engram.weights.HostTensor;
import io.engram.weights.InMemoryCheckpoint;
import io.engram.weights.RandomTensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * RWKV-7 (x070) as a differentiable, batched DJL computation for training. The equations are those of the serving
 * blocks {@code io.engram.model.rwkv7.Rwkv7Device} (BlinkDL/RWKV-LM {@code RWKV-v7}, and
 * {@code shared/oracle/README.md}) with a batch axis in front; the WKV recurrence is the serving path's chunked form
 * ({@code ChunkedWkv}) as a chain of autograd operations, so gradients flow through the state into earlier tokens, earlier documents and
 * {@link #mean}. Parameters are held by their checkpoint names (the same names {@code Rwkv7Weights} reads), in
 * their checkpoint layout: {@code nn.Linear} weights are {@code [out,in]} and used as {@code x @ W^T}.
 *
 * <p>State tensors, per layer l at index 3l..3l+2: {@code att_x_prev [B,C]}, {@code att_kv [B,H,N,N]} (row a value
 * channel, column a key channel, as {@code Rwkv7State}), {@code ffn_x_prev [B,C]}.
 */
public final class Rwkv7Trainable implements TrainableModel {

    /** Tokens per chunk of the chunked WKV form (as in serving, {@code Rwkv7Model.DEFAULT_WKV_CHUNK}). */
    static final int WKV_CHUNK = io.engram.model.rwkv7.Rwkv7Model.DEFAULT_WKV_CHUNK;

    /** The value-residual tensors of block 0: a checkpoint may hold them, but they are unused. */
    private static final Set<String> BLOCK0_UNUSED =
            Set.of(block(0, ATT_V0), block(0, ATT_V1), block(0, ATT_V2));

    private final Rwkv7Config cfg;
    private final NDManager manager;
    private final Map<String, NDArray> params = new LinkedHashMap<>();

    private Rwkv7Trainable(Rwkv7Config cfg, Map<String, HostTensor> tensors, Device device) {
        this.cfg = cfg;
        this.manager = NDManager.newBaseManager(device);
        for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
            if (BLOCK0_UNUSED.contains(e.getKey())) continue; // unused in block 0, as in Rwkv7Weights
            NDArray a = manager.create(e.getValue().toFloatArray(), new ai.djl.ndarray.types.Shape(e.getValue().shape()));
            a.setRequiresGradient(true);
            params.put(e.getKey(), a);
        }
    }

    /**
     * A model holding {@code tensors} (checkpoint names; e.g. from {@link #init} or a saved checkpoint). The shape
     * follows from the tensors; {@code Rwkv7Weights.read} checks every name and shape first, as for serving.
     */
    public static Rwkv7Trainable create(Map<String, HostTensor> tensors, Device device) {
        return new Rwkv7Trainable(Rwkv7Weights.read(new InMemoryCheckpoint(tensors)).config, tensors, device);
    }

    /**
     * The initialisation of BlinkDL/RWKV-LM's {@code RWKV-v7/train_temp} model: token-shift mixes and decays
     * graded by depth and channel, LoRA down-projections at zero, output projections at zero, tiny embeddings
     * (normalised by {@code ln0}). Orthogonal inits are replaced by scaled Gaussians.
     */
    public static Map<String, HostTensor> init(Rwkv7Config s, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int c = s.dim(), v = s.vocab(), f = s.ffnDim(), l = s.layers(), h = s.heads();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        put(t, uniform(rnd, (long) v * c, 1e-4), EMB, v, c);
        for (int i = 0; i < l; i++) {
            double r01 = l == 1 ? 0 : (double) i / (l - 1);      // 0 at the bottom, 1 at the top
            double r10 = 1.0 - (double) i / l;                   // 1 at the bottom, towards 0 at the top
            if (i == 0) {
                put(t, fill(c, 1), LN0_WEIGHT, c);
                put(t, fill(c, 0), LN0_BIAS, c);
            }
            put(t, fill(c, 1), block(i, LN1_WEIGHT), c);
            put(t, fill(c, 0), block(i, LN1_BIAS), c);
            put(t, fill(c, 1), block(i, LN2_WEIGHT), c);
            put(t, fill(c, 0), block(i, LN2_BIAS), c);
            double[] mixPow = {0.2, 0.9, 0.7, 0.7, 0.9, 0.2};
            List<String> mixes = ATT_MIXES;
            for (int m = 0; m < mixes.size(); m++) {
                float[] x = new float[c];
                for (int j = 0; j < c; j++) x[j] = (float) (1 - Math.pow((double) j / c, mixPow[m] * r10));
                put(t, x, block(i, mixes.get(m)), 1, 1, c);
            }
            float[] w0 = new float[c];
            for (int j = 0; j < c; j++) {
                w0[j] = (float) (-7 + 5 * Math.pow((double) j / (c - 1), 0.85 + Math.sqrt(r01)) + 0.5);
            }
            put(t, w0, block(i, ATT_W0), 1, 1, c);
            put(t, fill(c * s.decayLora(), 0), block(i, ATT_W1), c, s.decayLora());
            put(t, normal(rnd, (long) s.decayLora() * c, 0.1 / Math.sqrt(s.decayLora())), block(i, ATT_W2), s.decayLora(), c);
            put(t, fill(c, 0), block(i, ATT_A0), 1, 1, c);
            put(t, fill(c * s.aLora(), 0), block(i, ATT_A1), c, s.aLora());
            put(t, normal(rnd, (long) s.aLora() * c, 0.1 / Math.sqrt(s.aLora())), block(i, ATT_A2), s.aLora(), c);
            if (i > 0) {
                put(t, fill(c, 1), block(i, ATT_V0), 1, 1, c);
                put(t, fill(c * s.valueLora(), 0), block(i, ATT_V1), c, s.valueLora());
                put(t, normal(rnd, (long) s.valueLora() * c, 0.1 / Math.sqrt(s.valueLora())), block(i, ATT_V2), s.valueLora(), c);
            }
            put(t, fill(c * s.gateLora(), 0), block(i, ATT_G1), c, s.gateLora());
            put(t, normal(rnd, (long) s.gateLora() * c, 0.1 / Math.sqrt(s.gateLora())), block(i, ATT_G2), s.gateLora(), c);
            put(t, fill(c, 0.85f), block(i, ATT_K_K), 1, 1, c);
            put(t, fill(c, 1), block(i, ATT_K_A), 1, 1, c);
            put(t, fill(c, 0), block(i, ATT_R_K), h, s.headSize());
            double sc = 1 / Math.sqrt(c);
            put(t, uniform(rnd, (long) c * c, 0.5 * sc), block(i, ATT_RECEPTANCE), c, c);
            put(t, uniform(rnd, (long) c * c, 0.05 * sc), block(i, ATT_KEY), c, c);
            put(t, uniform(rnd, (long) c * c, 0.5 * sc), block(i, ATT_VALUE), c, c);
            put(t, fill(c * c, 0), block(i, ATT_OUTPUT), c, c);
            put(t, fill(c, (float) Math.pow((1.0 + i) / l, 0.7)), block(i, ATT_LN_X_WEIGHT), c);
            put(t, fill(c, 0), block(i, ATT_LN_X_BIAS), c);
            float[] xk = new float[c];
            for (int j = 0; j < c; j++) xk[j] = (float) (1 - Math.pow((double) j / c, Math.pow(r10, 4)));
            put(t, xk, block(i, FFN_X_K), 1, 1, c);
            put(t, uniform(rnd, (long) f * c, 0.5 * sc), block(i, FFN_KEY), f, c);
            put(t, fill(c * f, 0), block(i, FFN_VALUE), c, f);
        }
        put(t, fill(c, 1), LN_OUT_WEIGHT, c);
        put(t, fill(c, 0), LN_OUT_BIAS, c);
        put(t, normal(rnd, (long) v * c, 0.5 / Math.sqrt(c)), HEAD, v, c);
        return t;
    }

    @Override
    public String architecture() {
        return "rwkv7";
    }

    @Override
    public int vocabSize() {
        return cfg.vocab();
    }

    @Override
    public Map<String, NDArray> parameters() {
        return params;
    }

    @Override
    public TrainState zeroState(NDManager m, int batch) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        List<NDArray> t = new ArrayList<>();
        for (int l = 0; l < cfg.layers(); l++) {
            t.add(m.zeros(new ai.djl.ndarray.types.Shape(batch, c)));
            t.add(m.zeros(new ai.djl.ndarray.types.Shape(batch, h, n, n)));
            t.add(m.zeros(new ai.djl.ndarray.types.Shape(batch, c)));
        }
        return new TrainState(t, 0, null);
    }

    @Override
    public Step forward(NDArray tokens, TrainState state) {
        long t = tokens.getShape().get(1);
        NDArray x = tokens.toType(DataType.INT64, false).oneHot(cfg.vocab())                   // [B,T,V]
                .matMul(p(EMB));                                                  // [B,T,C]
        x = ln(x, LN0_WEIGHT, LN0_BIAS, Rwkv7Config.LAYER_NORM_EPS);     // [B,T,C]
        List<NDArray> next = new ArrayList<>();
        NDArray vFirst = null;
        for (int l = 0; l < cfg.layers(); l++) {
            List<NDArray> in = state.tensors().subList(3 * l, 3 * l + 3);
            TimeMixOut att = timeMix(x, l, in.get(0), in.get(1), vFirst);
            vFirst = att.vFirst;
            x = x.add(att.dx);                                                                // [B,T,C]
            NDArray[] ffn = channelMix(x, l, in.get(2));
            x = x.add(ffn[0]);                                                                // [B,T,C]
            next.add(att.xPrev);
            next.add(att.kv);
            next.add(ffn[1]);
        }
        NDArray logits = ln(x, LN_OUT_WEIGHT, LN_OUT_BIAS, Rwkv7Config.LAYER_NORM_EPS) // [B,T,C]
                .matMul(step(x.getManager(), p(HEAD).transpose()));               // [B,T,V]
        return new Step(logits, new TrainState(next, state.position() + t, null));
    }

    private record TimeMixOut(NDArray dx, NDArray vFirst, NDArray xPrev, NDArray kv) {}

    /** {@code Rwkv7Device} time mix, token-by-token WKV; see there for the equations. */
    private TimeMixOut timeMix(NDArray x, int l, NDArray xPrev, NDArray kv, NDArray vFirst) {
        long b = x.getShape().get(0), t = x.getShape().get(1);
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();

        NDArray xa = ln(x, block(l, LN1_WEIGHT), block(l, LN1_BIAS), Rwkv7Config.LAYER_NORM_EPS); // [B,T,C]
        NDArray prev = shift(xPrev, xa);                                                      // [B,T,C]
        NDArray d = prev.sub(xa);                                                             // [B,T,C]
        NDArray xr = lerp(xa, d, block(l, ATT_X_R)), xw = lerp(xa, d, block(l, ATT_X_W));
        NDArray xk = lerp(xa, d, block(l, ATT_X_K)), xv = lerp(xa, d, block(l, ATT_X_V));
        NDArray xaa = lerp(xa, d, block(l, ATT_X_A)), xg = lerp(xa, d, block(l, ATT_X_G));

        NDArray r = linear(xr, block(l, ATT_RECEPTANCE));                                     // [B,T,C]
        NDArray k = linear(xk, block(l, ATT_KEY));                                            // [B,T,C]
        NDArray v = linear(xv, block(l, ATT_VALUE));                                          // [B,T,C]
        NDManager m = x.getManager();
        NDArray one = Nd.constant(m, 1f);                                                     // constants as tensors: see Nd.constant
        NDArray logW = Activation.sigmoid(xw.matMul(p(l, ATT_W1)).tanh().matMul(p(l, ATT_W2))
                        .add(vec(m, block(l, ATT_W0))))                                       // [B,T,C]
                .mul(Nd.constant(m, -ChunkedWkv.DECAY_SCALE));                                // log decay, w in (0.5452, 1)
        NDArray a = Activation.sigmoid(xaa.matMul(p(l, ATT_A1)).matMul(p(l, ATT_A2))
                .add(vec(m, block(l, ATT_A0))));                                              // [B,T,C]
        NDArray g = Activation.sigmoid(xg.matMul(p(l, ATT_G1))).matMul(p(l, ATT_G2));         // [B,T,C]

        NDArray kk = k.mul(vec(m, block(l, ATT_K_K))).reshape(b, t, h, n);                    // [B,T,H,N]
        kk = kk.div(kk.norm(new int[] {-1}, true).maximum(Nd.constant(m, 1e-12f))).reshape(b, t, c); // [B,T,C] unit per head
        k = a.sub(one).mul(vec(m, block(l, ATT_K_A))).add(one).mul(k);                        // [B,T,C]

        NDArray vFirstOut = vFirst;
        if (l == 0) {
            vFirstOut = v;
        } else {
            NDArray mix = Activation.sigmoid(xv.matMul(p(l, ATT_V1)).matMul(p(l, ATT_V2))
                    .add(vec(m, block(l, ATT_V0))));                                          // [B,T,C]
            v = vFirst.sub(v).mul(mix).add(v);                                                // [B,T,C]
        }

        // S = S*diag(w) + (S a) b^T + v k^T,  y = S r,  with a = -kk, b = kk*a: the serving path's chunked form
        // (ChunkedWkv), differentiated through; gradients reach earlier chunks through the carried state.
        ai.djl.ndarray.types.Shape heads = new ai.djl.ndarray.types.Shape(b, t, h, n);
        ChunkedWkv.Out wkv = ChunkedWkv.run(kv, r.reshape(heads), logW.reshape(heads), k.reshape(heads),
                v.reshape(heads), kk.neg().reshape(heads), kk.mul(a).reshape(heads), WKV_CHUNK);
        NDArray y = wkv.y();                                                                  // [B,T,H,N]
        NDArray s = wkv.state();                                                              // [B,H,N,N]

        NDArray yn = LayerNorm.layerNorm(y, new ai.djl.ndarray.types.Shape(n),                  // per-head GroupNorm
                m.ones(new ai.djl.ndarray.types.Shape(n)), m.zeros(new ai.djl.ndarray.types.Shape(n)),
                Rwkv7Config.GROUP_NORM_EPS).singletonOrThrow().reshape(b, t, c)               // [B,T,C]
                .mul(p(l, ATT_LN_X_WEIGHT)).add(p(l, ATT_LN_X_BIAS));
        NDArray bonus = r.mul(k).mul(step(x.getManager(), p(l, ATT_R_K).reshape(c))).reshape(b, t, h, n)
                .sum(new int[] {-1}, true);                                                   // [B,T,H,1]
        yn = yn.add(bonus.mul(v.reshape(b, t, h, n)).reshape(b, t, c));                       // [B,T,C]
        NDArray dx = linear(yn.mul(g), block(l, ATT_OUTPUT));                                 // [B,T,C]
        return new TimeMixOut(dx, vFirstOut, last(xa), s);
    }

    /** {@code Rwkv7Device} channel mix: the residual update and the new {@code ffn_x_prev}. */
    private NDArray[] channelMix(NDArray x, int l, NDArray xPrev) {
        NDArray xf = ln(x, block(l, LN2_WEIGHT), block(l, LN2_BIAS), Rwkv7Config.LAYER_NORM_EPS); // [B,T,C]
        NDArray xk = lerp(xf, shift(xPrev, xf).sub(xf), block(l, FFN_X_K));                   // [B,T,C]
        NDArray k = Activation.relu(linear(xk, block(l, FFN_KEY))).square();                  // [B,T,F]
        return new NDArray[] {linear(k, block(l, FFN_VALUE)), last(xf)};                      // [B,T,C], [B,C]
    }

    @Override
    public TrainState mean(TrainState states, int groups, float[] weights) {
        if (weights.length != groups) throw new IllegalArgumentException(groups + " groups but " + weights.length + " weights");
        List<NDArray> out = new ArrayList<>();
        for (NDArray s : states.tensors()) {
            long[] shape = s.getShape().getShape();
            long[] grouped = new long[shape.length + 1];
            grouped[0] = shape[0] / groups;
            grouped[1] = groups;
            System.arraycopy(shape, 1, grouped, 2, shape.length - 1);
            long[] wShape = new long[grouped.length];
            java.util.Arrays.fill(wShape, 1);
            wShape[1] = groups;
            NDArray w = s.getManager().create(weights, new ai.djl.ndarray.types.Shape(wShape));  // [1,g,1,..]
            out.add(s.reshape(grouped).mul(w).sum(new int[] {1}));                                // [B/g,...]
        }
        return new TrainState(out, states.position(), null);
    }

    @Override
    public Map<String, HostTensor> checkpoint() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            out.put(e.getKey(), HostTensor.ofFloats(e.getKey(), e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
        }
        return out;
    }

    @Override
    public Map<String, Object> config() {
        return Map.of();
    }

    @Override
    public void close() {
        manager.close();
    }

    // --- small helpers ---------------------------------------------------------------------------------------

    /** Block {@code l}'s parameter {@code field}. */
    private NDArray p(int l, String field) {
        return p(block(l, field));
    }

    private NDArray p(String name) {
        NDArray a = params.get(name);
        if (a == null) throw new IllegalStateException("no parameter " + name);
        return a;
    }

    /**
     * A {@code [1,1,C]} parameter as {@code [C]}. Views of parameters are created in the parameters' manager; they are
     * moved to {@code m}, the step's manager, so they are freed with the step.
     */
    private NDArray vec(NDManager m, String name) {
        return step(m, p(name).reshape(cfg.dim()));
    }

    private static NDArray step(NDManager m, NDArray view) {
        view.attach(m);
        return view;
    }

    private NDArray ln(NDArray x, String weight, String bias, float eps) {
        NDArray w = p(weight);
        return LayerNorm.layerNorm(x, new ai.djl.ndarray.types.Shape(w.getShape().get(0)), w, p(bias), eps)
                .singletonOrThrow();
    }

    /** {@code x @ W^T} for an {@code nn.Linear} weight {@code [out,in]}. */
    private NDArray linear(NDArray x, String name) {
        return x.matMul(step(x.getManager(), p(name).transpose()));
    }

    /** {@code x + (prev - x) * mix}, given {@code d = prev - x}. */
    private NDArray lerp(NDArray x, NDArray d, String mix) {
        return d.mul(vec(x.getManager(), mix)).add(x);
    }

    /** Token shift: row t is row t-1 of x, row 0 the state's previous token. {@code prev [B,C]}, x {@code [B,T,C]}. */
    private static NDArray shift(NDArray prev, NDArray x) {
        long t = x.getShape().get(1);
        NDArray p = prev.expandDims(1);                                                       // [B,1,C]
        if (t == 1) return p;
        return NDArrays.concat(new NDList(p, x.get(":, 0:" + (t - 1))), 1);                   // [B,T,C]
    }

    private static NDArray last(NDArray x) {
        return x.get(":, -1");                                                                // [B,C]
    }

    private static void put(Map<String, HostTensor> t, float[] data, String name, long... shape) {
        RandomTensors.put(t, name, data, shape);
    }

    private static float[] fill(int n, float v) {
        return RandomTensors.fill(n, v);
    }

    private static float[] uniform(SplittableRandom r, long n, double bound) {
        return RandomTensors.uniform(r, n, -bound, bound);
    }

    private static float[] normal(SplittableRandom r, long n, double std) {
        return RandomTensors.normal(r, n, std);
    }
}
