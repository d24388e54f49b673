package io.engram.model.rwkv7;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.ops.Nd;
import io.engram.weights.ServeDtype;
import java.util.List;

/**
 * RWKV-7 "Goose" (x070) on DJL. Reading a chunk of T tokens runs every token-wise projection as one
 * {@code [T,C] x [C,C]} product and keeps only the WKV recurrence sequential; the vocabulary head runs for the
 * last token only. On the CPU, {@link Rwkv7Cpu} runs the same equations with Java kernels for everything but
 * priming's batched products (decode streams the weights from host memory; priming makes a few native calls per
 * layer instead of a hundred); the all-DJL blocks serve the GPU.
 *
 * <p>Reference: BlinkDL/RWKV-LM {@code RWKV-v7/rwkv_v7_demo.py}, BlinkDL/ChatRWKV {@code rwkv/model.py} (x070),
 * and the equations in {@code shared/oracle/README.md}.
 */
public final class Rwkv7Model implements LanguageModel {

    /**
     * Up to this many rows (tokens of a short prompt, or sequences of a batched decode step) the CPU path
     * multiplies with its Java kernels, which read each weight once for all rows; longer chunks go to DJL, whose
     * products only pay off once they are compute-bound.
     */
    static final int HOST_ROWS = 8;

    private final Rwkv7Config cfg;
    private final ServeDtype serveDtype;
    private final long parameters;
    private final Rwkv7Weights host;
    private final NDManager manager;
    private final int chunkSize;
    /** The CPU path (Java elementwise work, batched DJL products), or null for the all-DJL blocks below. */
    private final Rwkv7Cpu cpu;
    private final NDArray ln0W, ln0B, lnOutW, lnOutB, head;
    private final TimeMix[] att;
    private final ChannelMix[] ffn;

    /**
     * @param device    where the DJL tensors live
     * @param chunkSize tokens per batched chunk when reading a document
     * @param cpuKernels on the CPU, run through {@link Rwkv7Cpu}: Java kernels for decode and for the elementwise
     *                  work of priming, DJL for priming's batched products. Otherwise (and always on a GPU) every
     *                  operation is a DJL operation in {@link TimeMix} and {@link ChannelMix}.
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels) {
        this(weights, device, chunkSize, cpuKernels, ServeDtype.FLOAT32);
    }

    /**
     * @param serveDtype the format decode reads the large matrices in (CPU kernels only; priming's batched DJL
     *                   products stay float32). Anything but float32 on the all-DJL path is refused.
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, ServeDtype serveDtype) {
        this.serveDtype = serveDtype;
        this.parameters = weights.parameterCount();
        if (serveDtype != ServeDtype.FLOAT32 && !(cpuKernels && !device.isGpu())) {
            throw new IllegalArgumentException("serve dtype " + serveDtype + " is only served by the CPU decode kernels "
                    + "(engram.device=cpu with engram.scheduler.cpu-decode-kernels=true); use float32 on " + device);
        }
        this.cfg = weights.config;
        this.host = weights;
        this.chunkSize = chunkSize;
        this.manager = NDManager.newBaseManager(device);
        int c = cfg.dim();
        if (cpuKernels && !device.isGpu()) {
            cpu = new Rwkv7Cpu(weights, new HostProjections(weights, HOST_ROWS, serveDtype),
                    new DjlProjections(manager, weights, chunkSize), chunkSize);
            ln0W = ln0B = lnOutW = lnOutB = head = null;
            att = null;
            ffn = null;
            return;
        }
        cpu = null;
        ln0W = Nd.upload(manager, weights.ln0W, c);
        ln0B = Nd.upload(manager, weights.ln0B, c);
        lnOutW = Nd.upload(manager, weights.lnOutW, c);
        lnOutB = Nd.upload(manager, weights.lnOutB, c);
        head = Nd.linearWeight(manager, weights.head, cfg.vocab(), c);    // [C,V]
        att = new TimeMix[cfg.layers()];
        ffn = new ChannelMix[cfg.layers()];
        for (int i = 0; i < cfg.layers(); i++) {
            att[i] = new TimeMix(manager, cfg, weights.layers[i], i == 0);
            ffn[i] = new ChannelMix(manager, cfg, weights.layers[i]);
        }
    }

    /**
     * For the owner of the weights (the model loader): when decode reads another format, drops the float32 heap
     * copies of the large matrices, which nothing reads any more (decode has its served copies, priming its
     * libtorch ones). Returns whether it did. The weights passed in must not be used elsewhere afterwards.
     */
    public boolean releaseHostFloat32() {
        if (cpu == null || serveDtype == ServeDtype.FLOAT32) return false;
        host.releaseLargeMatrices();
        return true;
    }

    /** The format decode reads the large matrices in. */
    public ServeDtype serveDtype() {
        return serveDtype;
    }

    public Rwkv7Config config() {
        return cfg;
    }

    @Override
    public String architecture() {
        return Rwkv7State.ARCHITECTURE;
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
    public Rwkv7State zeroState() {
        return new Rwkv7State(cfg);
    }

    @Override
    public float[] forward(ModelState modelState, int[] tokens, boolean wantLogits) {
        Rwkv7State state = (Rwkv7State) modelState;
        if (tokens.length == 0) return null;
        float[] logits = null;
        for (int from = 0; from < tokens.length; from += chunkSize) {
            int to = Math.min(tokens.length, from + chunkSize);
            boolean last = wantLogits && to == tokens.length;
            logits = cpu != null ? cpu.forward(state, tokens, from, to, last) : chunk(state, tokens, from, to, last);
        }
        return logits;
    }

    /** NDArrays alive under this model: its weights, plus any a forward pass failed to release (for tests). */
    int liveArrays() {
        return manager.getManagedArrays().size();
    }

    /** Reads tokens[from, to) as one batch; every NDArray made here is closed when the scope ends. */
    private float[] chunk(Rwkv7State state, int[] tokens, int from, int to, boolean wantLogits) {
        int t = to - from, c = cfg.dim();
        try (NDManager sm = manager.newSubManager(); NDScope ignored = new NDScope()) {
            float[] e = new float[t * c];
            for (int i = 0; i < t; i++) {
                int tok = tokens[from + i];
                if (tok < 0 || tok >= cfg.vocab()) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
                System.arraycopy(host.emb, tok * c, e, i * c, c);
            }
            NDArray x = Nd.layerNorm(sm.create(e, new Shape(t, c)), ln0W, ln0B, Rwkv7Config.LAYER_NORM_EPS); // [T,C]
            NDArray vFirst = null;
            for (int l = 0; l < cfg.layers(); l++) {
                TimeMix.Out o = att[l].forward(x, state, l, vFirst);
                vFirst = o.vFirst();                                                   // [T,C]
                x = x.add(o.dx());                                                     // [T,C]
                x = x.add(ffn[l].forward(x, state, l));                                // [T,C]
            }
            state.position += t;
            if (!wantLogits) return null;
            NDArray last = Nd.layerNorm(x.get(t - 1), lnOutW, lnOutB, Rwkv7Config.LAYER_NORM_EPS); // [C]
            return last.reshape(1, c).matMul(head).toFloatArray();                    // [V]
        }
    }

    /** One token for each of several sequences: a single batched step on the CPU decode path. */
    @Override
    public float[][] step(List<ModelState> states, int[] tokens) {
        if (cpu == null) return LanguageModel.super.step(states, tokens);
        return cpu.step(states.toArray(Rwkv7State[]::new), tokens);
    }

    @Override
    public ModelState combine(List<ModelState> states, double[] weights) {
        return Rwkv7Combine.mean(cfg, states, weights);
    }

    @Override
    public Rwkv7State stateOf(List<StateTensor> tensors, long position) {
        Rwkv7State s = zeroState();
        s.position = position;
        List<StateTensor> want = s.tensors();
        if (tensors.size() != want.size()) {
            throw new IllegalArgumentException("an RWKV-7 state of this model has " + want.size() + " tensors, got " + tensors.size());
        }
        for (int i = 0; i < want.size(); i++) {
            StateTensor w = want.get(i), g = tensors.get(i);
            if (!w.name().equals(g.name()) || !java.util.Arrays.equals(w.shape(), g.shape())) {
                throw new IllegalArgumentException("state tensor " + i + " should be " + w.name() + " "
                        + java.util.Arrays.toString(w.shape()) + ", got " + g.name() + " " + java.util.Arrays.toString(g.shape()));
            }
            System.arraycopy(g.data(), 0, w.data(), 0, w.data().length);
        }
        return s;
    }

    @Override
    public void close() {
        if (cpu != null) cpu.close();
        manager.close();
    }
}
