package io.engram.model.retnet;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import io.engram.model.TrainableModel;
import io.engram.model.ops.Nd;
import io.engram.weights.CheckpointException;
import io.engram.weights.HostTensor;
import io.engram.weights.InMemoryCheckpoint;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * RetNet (torchscale {@code RetNetDecoder}) as a {@link TrainableModel}: the serving model's equations
 * ({@code io.engram.model.retnet.RetNetModel} with {@code Normalisation.EXACT}) written batched and differentiable.
 *
 * <p>A call to {@link #forward} reads the whole {@code [B,T]} block at once from the state, as one block of
 * {@code MultiScaleRetention.block/headGroup} (the parallel form with an initial state): with k̃, q̃ the rotated key and
 * query at absolute positions {@code p0+i} (k scaled by dk^-0.5) and (kv0, s0) the state,
 * <pre>
 *   o_i = Σ_{j<=i} γ^(i-j) (q̃_i·k̃_j) v_j / r_i  +  γ^(i+1) sqrt(s0) kv0 q̃_i / r_i,   r_i = sqrt(γ^(i+1) s0 + S_{i+1})
 * </pre>
 * followed by the per-head RMSNorm, the swish gate and out_proj; the state after the block is
 * {@code MultiScaleRetention.advance}'s closed form. The scale s (and so every r_i, the decay mask and the state's
 * carry factors) depends only on the decays and the number of tokens read, never on the data, so it is kept on the
 * host ({@link TrainState#host()}, {@code [L][H]}) and those factors are computed in double precision and enter the
 * graph as constants; gradients flow through q, k, v, g, the embeddings, the norms and kv0.
 *
 * <p>Parameters are the checkpoint tensors under torchscale's names ({@link RetNetWeights} is the authority on names
 * and shapes), kept in their {@code nn.Linear} {@code [out,in]} layout; {@code retnet_rel_pos.angle} and
 * {@code retnet_rel_pos.decay} are buffers, not trained.
 *
 * <p>NDArray lifetimes: parameters and buffers live in this model's base manager; everything {@link #forward} makes
 * is attached to the tokens' manager (the caller opens one per training step), {@link #mean}'s to the states'.
 */
public final class RetNetTrainable implements TrainableModel {

    private final RetNetConfig cfg;
    private final NDManager manager;
    /** Every tensor in checkpoint order, buffers included. */
    private final Map<String, NDArray> all = new LinkedHashMap<>();
    /** The trainable subset of {@link #all}, same order. */
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    /** The serving model's decays and rotation, from the same buffers. */
    private final Decays decays;
    private final Rotary rotary;

    private RetNetTrainable(RetNetConfig cfg, Map<String, HostTensor> tensors, Device device) {
        this.cfg = cfg;
        RetNetWeights w = RetNetWeights.read(new InMemoryCheckpoint(tensors), cfg); // validates every name, shape and buffer
        List<String> names = names(cfg);
        for (String name : tensors.keySet()) {
            if (!names.contains(name)) throw new CheckpointException("unexpected tensor '" + name + "' for RetNet " + cfg);
        }
        this.manager = NDManager.newBaseManager(device);
        for (String name : names) {
            HostTensor t = tensors.get(name);
            NDArray a = manager.create(t.toFloatArray(), new Shape(t.shape()));
            a.setName(name);
            all.put(name, a);
            if (!RetNetSchema.BUFFERS.contains(name)) {
                a.setRequiresGradient(true);
                params.put(name, a);
            }
        }
        decays = new Decays(w.logDecay);
        rotary = new Rotary(manager, w.angle);
    }

    /**
     * Uploads {@code tensors} (a full checkpoint under torchscale's names, validated by {@link RetNetWeights#read})
     * to a new base manager on {@code device}; every tensor but the two {@code retnet_rel_pos} buffers is a leaf
     * that requires a gradient.
     */
    public static RetNetTrainable create(RetNetConfig cfg, Map<String, HostTensor> tensors, Device device) {
        return new RetNetTrainable(cfg, tensors, device);
    }

    /**
     * A training-friendly random initialisation: {@link RetNetSchema#randomInit} (projections and embedding
     * N(0, in^-0.5), torchscale's buffers) with every RMSNorm weight set to 1.
     */
    public static Map<String, HostTensor> init(RetNetConfig cfg, long seed) {
        Map<String, HostTensor> t = new LinkedHashMap<>(RetNetSchema.randomInit(cfg, seed));
        float[] ones = new float[cfg.dim()];
        java.util.Arrays.fill(ones, 1f);
        for (String name : List.copyOf(t.keySet())) {
            if (RetNetSchema.isNorm(name)) {
                t.put(name, HostTensor.ofFloats(name, new long[] {cfg.dim()}, ones));
            }
        }
        return t;
    }

    /** Every checkpoint name of {@code cfg}, in {@link RetNetSchema#all}'s order (buffers last). */
    private static List<String> names(RetNetConfig cfg) {
        return RetNetSchema.all(cfg.layers(), cfg.layernormEmbedding());
    }

    public RetNetConfig retNetConfig() {
        return cfg;
    }

    @Override
    public String architecture() {
        return "retnet";
    }

    @Override
    public int vocabSize() {
        return cfg.vocab();
    }

    @Override
    public Map<String, NDArray> parameters() {
        return Collections.unmodifiableMap(params);
    }

    /** kv zeros {@code [B,H,dv,dk]} per layer, scale zeros, position 0. */
    @Override
    public TrainState zeroState(NDManager m, int batch) {
        List<NDArray> kv = new ArrayList<>(cfg.layers());
        for (int l = 0; l < cfg.layers(); l++) {
            kv.add(m.zeros(new Shape(batch, cfg.heads(), cfg.headValueDim(), cfg.keyDim()))); // [B,H,dv,dk]
        }
        return new TrainState(kv, 0, new float[cfg.layers()][cfg.heads()]);
    }

    private NDArray p(String name) {
        return params.get(name);
    }

    @Override
    public Step forward(NDArray tokens, TrainState state) {
        NDManager m = tokens.getManager();
        if (tokens.getShape().dimension() != 2) throw new IllegalArgumentException("tokens must be [B,T], got " + tokens.getShape());
        int b = (int) tokens.getShape().get(0), n = (int) tokens.getShape().get(1), h = cfg.heads();
        if (state.tensors().size() != cfg.layers()) {
            throw new IllegalArgumentException("a RetNet state has " + cfg.layers() + " kv tensors, got " + state.tensors().size());
        }
        long p0 = state.position();

        NDArray x = Embedding.embedding(tokens.toType(DataType.INT64, false), p(RetNetSchema.EMBED),
                SparseFormat.DENSE).singletonOrThrow();                                    // [B,T,D]
        if (!cfg.noScaleEmbedding()) x = x.mul(Nd.constant(m, cfg.embedScale()));          // constants as tensors: see Nd.constant
        if (cfg.layernormEmbedding()) x = rms(x, p(RetNetSchema.EMBED_NORM));              // [B,T,D]

        // the serving model's rotation tables for positions p0..p0+T-1 and decay mask γ^(i-j), i >= j
        Rotary.Tables rot = rotary.tables(m, p0, n);                                       // [T,dk] cos, sin
        NDArray[] lags = Decays.lags(m, n);                                                // [T,T] lag, causal
        NDArray decayMask = decays.mask(lags[0], lags[1], 0, h);                           // [H,T,T]

        List<NDArray> kvOut = new ArrayList<>(cfg.layers());
        float[][] scaleOut = new float[cfg.layers()][];
        for (int l = 0; l < cfg.layers(); l++) {
            float[] s0 = state.host()[l];
            Retention r = retention(x, state.tensors().get(l), s0, l, rot, decayMask, b, n); // [B,T,D]
            NDArray y = x.add(r.out());                                                    // [B,T,D]
            x = y.add(ffn(y, l));                                                          // [B,T,D]
            kvOut.add(r.kv());
            scaleOut[l] = r.scale();
        }
        NDArray logits = Linear.linear(rms(x, p(RetNetSchema.FINAL_NORM)), p(RetNetSchema.OUTPUT))
                .singletonOrThrow();                                                       // [B,T,V]
        return new Step(logits, new TrainState(kvOut, p0 + n, scaleOut));
    }

    /** A layer's retention output and the state it leaves. */
    private record Retention(NDArray out, NDArray kv, float[] scale) {}

    /**
     * {@code MultiScaleRetention.forward} for a batch, as one block from the state: {@code block/headGroup} with
     * {@code Normalisation.EXACT} for the output and {@code advance} for the state.
     *
     * @param x   [B,T,D] the residual stream
     * @param kv0 [B,H,dv,dk] the layer's kv before the block
     * @param s0  [H] the layer's scale before the block (the same for every row)
     */
    private Retention retention(NDArray x, NDArray kv0, float[] s0, int layer, Rotary.Tables rot,
                                NDArray decayMask, int b, int n) {
        NDManager m = x.getManager();
        int h = cfg.heads(), dk = cfg.keyDim(), dv = cfg.headValueDim();

        NDArray hn = rms(x, p(RetNetSchema.layer(layer, RetNetSchema.RETENTION_NORM)));    // [B,T,D]
        NDArray q = lin(hn, layer, RetNetSchema.Q).reshape(b, n, h, dk).transpose(0, 2, 1, 3); // [B,H,T,dk]
        NDArray k = lin(hn, layer, RetNetSchema.K).mul(Nd.constant(m, (float) Math.pow(dk, -0.5)))
                .reshape(b, n, h, dk).transpose(0, 2, 1, 3);                               // [B,H,T,dk]
        NDArray v = lin(hn, layer, RetNetSchema.V).reshape(b, n, h, dv).transpose(0, 2, 1, 3); // [B,H,T,dv]
        NDArray g = lin(hn, layer, RetNetSchema.G);                                        // [B,T,Dv]
        NDArray qr = rotary.apply(q, rot), kr = rotary.apply(k, rot);                      // [B,H,T,dk]

        // the data-independent factors, in double as MultiScaleRetention.block and advance compute them
        float[] invR = new float[h * n], cross = new float[h * n], scale = new float[h], carry = new float[h];
        float[] kw = new float[h * n];
        boolean fromZero = true;
        for (int hh = 0; hh < h; hh++) {
            fromZero &= s0[hh] == 0f;
            for (int i = 0; i < n; i++) {
                double ri = Math.sqrt(decays.pow(hh, i + 1) * s0[hh] + decays.sum(hh, i + 1));
                invR[hh * n + i] = (float) (1 / ri);                                          // 1 / r_i
                cross[hh * n + i] = (float) (decays.pow(hh, i + 1) * Math.sqrt(s0[hh]) / ri);        // γ^(i+1) sqrt(s0) / r_i
            }
            double sNew = decays.pow(hh, n) * s0[hh] + decays.sum(hh, n), inv = 1 / Math.sqrt(sNew);
            scale[hh] = (float) sNew;
            carry[hh] = (float) (decays.pow(hh, n) * Math.sqrt(s0[hh]) * inv);                      // γ^n sqrt(s0) / sqrt(s)
            for (int j = 0; j < n; j++) kw[hh * n + j] = (float) (decays.pow(hh, n - 1 - j) * inv);  // γ^(n-1-j) / sqrt(s)
        }

        // output: Σ_{j<=i} γ^(i-j) (q̃_i·k̃_j) v_j / r_i + γ^(i+1) sqrt(s0) kv0 q̃_i / r_i
        NDArray mask = decayMask.mul(m.create(invR, new Shape(h, n, 1)));                  // [H,T,T] γ^(i-j) / r_i
        NDArray qk = qr.matMul(kr.transpose(0, 1, 3, 2)).mul(mask);                        // [B,H,T,T]
        NDArray o = qk.matMul(v);                                                          // [B,H,T,dv]
        if (!fromZero) { // from the zero state kv0 = 0 and sqrt(s0) = 0: the cross term vanishes
            NDArray kv0t = own(m, kv0.transpose(0, 1, 3, 2));                              // [B,H,dk,dv]
            o = o.add(qr.mul(m.create(cross, new Shape(h, n, 1))).matMul(kv0t));           // [B,H,T,dv]
        }

        // state: kv = γ^n sqrt(s0) kv0 / sqrt(s) + Σ_j γ^(n-1-j) v_j k̃_j^T / sqrt(s)
        NDArray added = v.mul(m.create(kw, new Shape(h, n, 1)))                            // [B,H,T,dv]
                .transpose(0, 1, 3, 2).matMul(kr);                                         // [B,H,dv,dk]
        NDArray kv = fromZero ? added : m.create(carry, new Shape(h, 1, 1)).mul(kv0).add(added); // [B,H,dv,dk]

        o = rms(o, null).transpose(0, 2, 1, 3).reshape(b, n, cfg.valueDim());              // [B,T,Dv] per-head norm
        NDArray out = lin(Activation.sigmoid(g).mul(g).mul(o), layer, RetNetSchema.OUT);   // [B,T,D] swish gate
        return new Retention(out, kv, scale);
    }

    /** {@code GluFeedForward.forward}: {@code fc2(act(fc1 h) * gate h)}, h = RMS(x)·w; returns the update [B,T,D]. */
    private NDArray ffn(NDArray x, int layer) {
        NDArray hn = rms(x, p(RetNetSchema.layer(layer, RetNetSchema.FFN_NORM)));          // [B,T,D]
        NDArray a = lin(hn, layer, RetNetSchema.FC1);                                      // [B,T,F]
        NDManager m = x.getManager();
        a = switch (cfg.activation()) {
            case SWISH -> a.mul(Activation.sigmoid(a));                                       // silu
            case GELU -> a.mul(a.mul(Nd.constant(m, (float) (1 / Math.sqrt(2)))).erf().add(Nd.constant(m, 1f)))
                    .mul(Nd.constant(m, 0.5f));                                              // exact (erf) gelu
            case RELU -> Activation.relu(a);
        };
        return lin(a.mul(lin(hn, layer, RetNetSchema.GATE)), layer, RetNetSchema.FC2);     // [B,T,D]
    }

    /** {@code x W^T} with layer {@code layer}'s {@code [out,in]} weight {@code field}; attached to x's manager. */
    private NDArray lin(NDArray x, int layer, String field) {
        return Linear.linear(x, p(RetNetSchema.layer(layer, field))).singletonOrThrow();
    }

    /** {@code RmsNorm.apply}: {@code x / sqrt(mean(x²) + eps) · w} over the last axis; w null for the per-head norm. */
    private NDArray rms(NDArray x, NDArray w) {
        NDArray y = x.div(x.square().mean(new int[] {-1}, true)
                .add(Nd.constant(x.getManager(), cfg.eps())).sqrt());                      // [..., N]
        return w == null ? y : y.mul(w);
    }

    /** Moves a fresh view made from another manager's array into {@code m}, so that m's close frees it. */
    private static NDArray own(NDManager m, NDArray a) {
        if (a.getManager() != m) a.attach(m);
        return a;
    }

    /**
     * {@code RetNetCombine.mean} for a batch: kv and scale are the weighted sums over each group. Row
     * {@code b*groups + i} is member i of group b. A {@link TrainState} has one position for every row, so the members
     * already end at the common position P and {@code RetNetCombine}'s re-basing (a rotation by (P - pos_i)·θ) is
     * the identity here.
     */
    @Override
    public TrainState mean(TrainState states, int groups, float[] weights) {
        if (weights.length != groups) throw new IllegalArgumentException(groups + " groups but " + weights.length + " weights");
        List<NDArray> out = new ArrayList<>(states.tensors().size());
        for (NDArray kv : states.tensors()) {
            Shape sh = kv.getShape();                                                      // [B,H,dv,dk]
            long b = sh.get(0);
            if (b % groups != 0) throw new IllegalArgumentException("batch " + b + " is not a multiple of groups " + groups);
            NDArray wts = kv.getManager().create(weights, new Shape(1, groups, 1, 1, 1));  // [1,g,1,1,1]
            out.add(kv.reshape(b / groups, groups, sh.get(1), sh.get(2), sh.get(3))        // [B/g,g,H,dv,dk]
                    .mul(wts).sum(new int[] {1}));                                         // [B/g,H,dv,dk]
        }
        double total = 0;
        for (float w : weights) total += w;
        float[][] scale = new float[states.host().length][];
        for (int l = 0; l < scale.length; l++) {
            scale[l] = new float[states.host()[l].length];
            for (int j = 0; j < scale[l].length; j++) scale[l][j] = (float) (total * states.host()[l][j]); // Σ w_i s
        }
        return new TrainState(out, states.position(), scale);
    }

    /** Every tensor, buffers included, as float32 under its checkpoint name and shape. */
    @Override
    public Map<String, HostTensor> checkpoint() {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : all.entrySet()) {
            NDArray a = e.getValue();
            out.put(e.getKey(), HostTensor.ofFloats(e.getKey(), a.getShape().getShape(), a.toFloatArray()));
        }
        return out;
    }

    @Override
    public Map<String, Object> config() {
        return cfg.toMap();
    }

    @Override
    public void close() {
        manager.close();
    }
}
