package io.engram.model.retnet;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.ops.Nd;
import java.util.Arrays;
import java.util.List;

/**
 * RetNet (torchscale {@code RetNetDecoder}, commit 4d1e0e8) on DJL, with its three paradigms ({@link Paradigm}).
 * Reading a document or a prompt ({@link #forward(ModelState, int[], boolean)} with more than one token) is
 * chunkwise; a single token is recurrent. Whatever the paradigm, the state left behind is the recurrent one, and
 * with {@link Normalisation#EXACT} (the default) so are the outputs, up to float rounding.
 *
 * <p>Pre-norm blocks, RMSNorm everywhere: {@code x = emb[tok]·embed_scale (then RMSNorm if layernorm_embedding)};
 * per layer {@code x += MSR(RMS(x))}, {@code x += GLU(RMS(x))}; {@code logits = W_out RMS(x)}. See
 * {@code shared/oracle/README.md} (RetNet) for the equations.
 */
public final class RetNetModel implements LanguageModel {

    private final RetNetConfig cfg;
    private final NDManager manager;
    private final float[] embed;
    private final NDArray embedNorm, finalNorm, head;
    private final MultiScaleRetention[] retention;
    private final GluFeedForward[] ffn;
    private final Rotary rotary;
    private final long parameters;

    /**
     * @param device    where the DJL tensors live
     * @param chunkSize tokens per chunk of the chunkwise paradigm; 0 = the config's {@code recurrent_chunk_size}
     */
    public RetNetModel(RetNetWeights weights, Device device, int chunkSize) {
        if (chunkSize < 0) throw new IllegalArgumentException("chunk size must be >= 0, got " + chunkSize);
        this.cfg = chunkSize == 0 ? weights.config : weights.config.withChunkSize(chunkSize);
        this.manager = NDManager.newBaseManager(device);
        this.parameters = weights.parameterCount();
        int d = cfg.dim();
        embed = weights.embed;
        embedNorm = weights.embedNorm == null ? null : Nd.upload(manager, weights.embedNorm, d);
        finalNorm = Nd.upload(manager, weights.finalNorm, d);
        head = Nd.linearWeight(manager, weights.outputProjection, cfg.vocab(), d); // [D,V]
        rotary = new Rotary(manager, weights.angle);
        Decays decays = new Decays(weights.logDecay);
        retention = new MultiScaleRetention[cfg.layers()];
        ffn = new GluFeedForward[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            retention[l] = new MultiScaleRetention(manager, cfg, decays, weights.layers[l]);
            ffn[l] = new GluFeedForward(manager, cfg, weights.layers[l]);
        }
    }

    /** The hyperparameters, with the chunk size in effect. */
    public RetNetConfig config() {
        return cfg;
    }

    public int chunkSize() {
        return cfg.chunkSize();
    }

    @Override
    public String architecture() {
        return RetNetState.ARCHITECTURE;
    }

    @Override
    public int vocabSize() {
        return cfg.vocab();
    }

    @Override
    public int layers() {
        return cfg.layers();
    }

    @Override
    public long parameters() {
        return parameters;
    }

    @Override
    public RetNetState zeroState() {
        return new RetNetState(cfg);
    }

    /** Chunkwise for more than one token (priming), recurrent for one (generation). */
    @Override
    public float[] forward(ModelState state, int[] tokens, boolean wantLogits) {
        return forward(state, tokens, wantLogits, tokens.length == 1 ? Paradigm.RECURRENT : Paradigm.CHUNKWISE);
    }

    /**
     * Reads {@code tokens} into {@code state} with the given paradigm ({@link Normalisation#EXACT}); the logits after
     * the last token, if wanted.
     */
    public float[] forward(ModelState state, int[] tokens, boolean wantLogits, Paradigm paradigm) {
        return forward(state, tokens, wantLogits, paradigm, Normalisation.EXACT);
    }

    /** As {@link #forward(ModelState, int[], boolean, Paradigm)}, choosing how the block paradigms normalise. */
    public float[] forward(ModelState state, int[] tokens, boolean wantLogits, Paradigm paradigm, Normalisation norm) {
        if (tokens.length == 0) return null;
        float[][] out = run((RetNetState) state, tokens, paradigm, norm, wantLogits ? Head.LAST : Head.NONE);
        return wantLogits ? out[tokens.length - 1] : null;
    }

    /** Reads {@code tokens} into {@code state} and returns the logits after every token, {@code [T][V]}. */
    public float[][] logitsAll(ModelState state, int[] tokens, Paradigm paradigm) {
        return logitsAll(state, tokens, paradigm, Normalisation.EXACT);
    }

    /** As {@link #logitsAll(ModelState, int[], Paradigm)}, choosing how the block paradigms normalise. */
    public float[][] logitsAll(ModelState state, int[] tokens, Paradigm paradigm, Normalisation norm) {
        return run((RetNetState) state, tokens, paradigm, norm, Head.ALL);
    }

    private enum Head { NONE, LAST, ALL }

    private float[][] run(RetNetState state, int[] tokens, Paradigm paradigm, Normalisation norm, Head head) {
        for (int tok : tokens) {
            if (tok < 0 || tok >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
        }
        int block = switch (paradigm) {
            case PARALLEL -> Math.max(1, tokens.length);
            case CHUNKWISE -> cfg.chunkSize();
            case RECURRENT -> 1;
        };
        float[][] logits = new float[tokens.length][];
        for (int from = 0; from < tokens.length; from += block) {
            int to = Math.min(tokens.length, from + block);
            Head rows = head == Head.LAST && to < tokens.length ? Head.NONE : head;
            block(state, tokens, from, to, paradigm, norm, rows, logits);
        }
        return logits;
    }

    /** Reads tokens[from, to) as one block through every layer; every NDArray made here is closed with the scope. */
    private void block(RetNetState state, int[] tokens, int from, int to, Paradigm paradigm, Normalisation norm,
                       Head rows, float[][] logits) {
        int n = to - from, d = cfg.dim(), v = cfg.vocab();
        try (NDManager sm = manager.newSubManager(); NDScope ignored = new NDScope()) {
            float[] e = new float[n * d];
            float scale = cfg.embedScale();
            for (int i = 0; i < n; i++) {
                int o = tokens[from + i] * d;
                for (int c = 0; c < d; c++) e[i * d + c] = embed[o + c] * scale;
            }
            NDArray x = sm.create(e, new Shape(n, d));                                        // [n,D]
            if (embedNorm != null) x = RmsNorm.apply(x, embedNorm, cfg.eps());              // [n,D]
            MultiScaleRetention.Block b = new MultiScaleRetention.Block(sm, rotary, state.pos, n, paradigm);
            for (int l = 0; l < cfg.layers(); l++) {
                try (NDScope layer = new NDScope()) { // a layer's temporaries go when it is done
                    NDArray y = x.add(retention[l].forward(x, state, l, b, paradigm, norm, cfg.chunkSize())); // [n,D]
                    x = y.add(ffn[l].forward(y));                                                         // [n,D]
                    NDScope.unregister(x);
                }
            }
            state.pos += n;
            if (rows == Head.NONE) return;
            NDArray y = rows == Head.ALL ? x : x.get((n - 1) + ":" + n);                      // [r,D]
            float[] out = RmsNorm.apply(y, finalNorm, cfg.eps()).matMul(head).toFloatArray(); // [r,V]
            int r = out.length / v;
            for (int i = 0; i < r; i++) logits[to - r + i] = Arrays.copyOfRange(out, i * v, (i + 1) * v);
        }
    }

    /**
     * One decode step for B sequences as one forward (rows = sequences, each at its own position): the kv of all
     * layers goes up once and comes back once, with the logits; nothing crosses per layer. Equals the recurrent
     * {@link #forward} of each sequence alone.
     */
    @Override
    public float[][] step(List<ModelState> states, int[] tokens) {
        int b = tokens.length, d = cfg.dim(), v = cfg.vocab(), layers = cfg.layers();
        if (states.size() != b) throw new IllegalArgumentException(states.size() + " states but " + b + " tokens");
        if (b == 0) return new float[0][];
        RetNetState[] rs = states.stream().map(s -> (RetNetState) s).toArray(RetNetState[]::new);
        int h = cfg.heads(), dv = cfg.headValueDim(), dk = cfg.keyDim(), kvLen = h * dv * dk;
        float[] e = new float[b * d], kvHost = new float[b * layers * kvLen];
        long[] positions = new long[b];
        float scale = cfg.embedScale();
        for (int i = 0; i < b; i++) {
            int tok = tokens[i];
            if (tok < 0 || tok >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
            for (int c = 0; c < d; c++) e[i * d + c] = embed[tok * d + c] * scale;
            for (int l = 0; l < layers; l++) System.arraycopy(rs[i].kv[l], 0, kvHost, (i * layers + l) * kvLen, kvLen);
            positions[i] = rs[i].pos;
        }
        float[] logits, kvOut;
        float[][][] scales;
        try (NDManager sm = manager.newSubManager(); NDScope ignored = new NDScope()) {
            NDArray kvAll = sm.create(kvHost, new Shape(b, layers, kvLen));                 // [B,L,H*dv*dk] one upload
            NDArray x = sm.create(e, new Shape(b, d));                                       // [B,D]
            if (embedNorm != null) x = RmsNorm.apply(x, embedNorm, cfg.eps());             // [B,D]
            Rotary.Tables rot = rotary.tablesAt(sm, positions);                              // [B,1,dk]
            NDList next = new NDList();
            scales = new float[layers][b][];                                     // committed at the end
            for (int l = 0; l < layers; l++) {
                for (int i = 0; i < b; i++) scales[l][i] = rs[i].scale[l].clone();
                NDArray kv = kvAll.get(":," + l).reshape(b, h, dv, dk);                     // [B,H,dv,dk]
                NDArray[] out = retention[l].stepBatch(x, kv, scales[l], rotary, rot);
                next.add(out[1].reshape(b, 1, kvLen));
                NDArray y = x.add(out[0]);                                                   // [B,D]
                x = y.add(ffn[l].forward(y));                                                // [B,D]
            }
            kvOut = NDArrays.concat(next, 1).toFloatArray();                                 // [B,L,H*dv*dk] one download
            logits = RmsNorm.apply(x, finalNorm, cfg.eps()).matMul(head).toFloatArray();     // [B,V]
        }
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            for (int l = 0; l < layers; l++) {
                System.arraycopy(kvOut, (i * layers + l) * kvLen, rs[i].kv[l], 0, kvLen);
                System.arraycopy(scales[l][i], 0, rs[i].scale[l], 0, scales[l][i].length);
            }
            rs[i].pos++;
            out[i] = Arrays.copyOfRange(logits, i * v, (i + 1) * v);
        }
        return out;
    }

    @Override
    public ModelState combine(List<ModelState> states, double[] weights) {
        return RetNetCombine.mean(cfg, rotary, states, weights);
    }

    @Override
    public RetNetState stateOf(List<StateTensor> tensors, long position) {
        if (position < 0) throw new IllegalArgumentException("a RetNet state's position must be >= 0, got " + position);
        RetNetState s = zeroState();
        s.pos = position;
        List<StateTensor> want = s.tensors();
        if (tensors.size() != want.size()) {
            throw new IllegalArgumentException("a RetNet state of this model has " + want.size() + " tensors, got " + tensors.size());
        }
        for (int i = 0; i < want.size(); i++) {
            StateTensor w = want.get(i), g = tensors.get(i);
            if (!w.name().equals(g.name()) || !Arrays.equals(w.shape(), g.shape())) {
                throw new IllegalArgumentException("state tensor " + i + " should be " + w.name() + " "
                        + Arrays.toString(w.shape()) + ", got " + g.name() + " " + Arrays.toString(g.shape()));
            }
            System.arraycopy(g.data(), 0, w.data(), 0, w.data().length);
        }
        return s;
    }

    @Override
    public void close() {
        manager.close();
    }
}
