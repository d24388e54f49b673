package io.engram.model.rwkv7;

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
import java.util.List;

/**
 * RWKV-7 "Goose" (x070) on DJL. Reading a chunk of T tokens runs every token-wise projection as one
 * {@code [T,C] x [C,C]} product and keeps only the WKV recurrence sequential; the vocabulary head runs for the
 * last token only. On the CPU, {@link Rwkv7Cpu} runs the same equations with Java kernels for everything but
 * priming's batched products (decode streams the weights from host memory; priming makes a few native calls per
 * layer instead of a hundred); the NDArray-only blocks of {@link Rwkv7Device} (chunked WKV, state as NDArrays through the whole pass, batched
 * decode with rows = sequences) serve the GPU, and the CPU engine too when the Java kernels are switched off
 * ({@code engram.model.cpu-decode-kernels=false}).
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
    private final Rwkv7Weights host;
    private final NDManager manager;
    private final int chunkSize;
    /** The CPU path (Java elementwise work, batched DJL products), or null for the all-DJL blocks below. */
    private final Rwkv7Cpu cpu;
    private final NDArray ln0W, ln0B, lnOutW, lnOutB, head;
    /** The NDArray-only blocks (GPU, or the CPU engine without the Java kernels), or null on the CPU path. */
    private final Rwkv7Device device;

    /** Tokens per chunk of the chunked WKV form on the NDArray-only path (see {@link ChunkedWkv}). */
    public static final int DEFAULT_WKV_CHUNK = 16;

    /**
     * @param device    where the DJL tensors live
     * @param chunkSize tokens per batched chunk when reading a document
     * @param cpuKernels on the CPU, run through {@link Rwkv7Cpu}: Java kernels for decode and for the elementwise
     *                  work of priming, DJL for priming's batched products. Otherwise (and always on a GPU) every
     *                  operation is an NDArray operation in {@link Rwkv7Device} (state on the device for the whole pass).
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels) {
        this(weights, device, chunkSize, cpuKernels, DEFAULT_WKV_CHUNK);
    }

    /**
     * @param wkvChunk on the NDArray-only path, tokens per chunk of the chunked WKV form; 1 runs the recurrence
     *                 token by token (the reference the chunked form is tested against)
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, int wkvChunk) {
        if (wkvChunk < 1) throw new IllegalArgumentException("wkvChunk must be >= 1, got " + wkvChunk);
        this.cfg = weights.config;
        this.host = weights;
        this.chunkSize = chunkSize;
        this.manager = NDManager.newBaseManager(device);
        int c = cfg.dim();
        if (cpuKernels && !device.isGpu()) {
            cpu = new Rwkv7Cpu(weights, new HostProjections(weights, HOST_ROWS),
                    new DjlProjections(manager, weights, chunkSize), chunkSize);
            ln0W = ln0B = lnOutW = lnOutB = head = null;
            this.device = null;
            return;
        }
        cpu = null;
        ln0W = Nd.upload(manager, weights.ln0W, c);
        ln0B = Nd.upload(manager, weights.ln0B, c);
        lnOutW = Nd.upload(manager, weights.lnOutW, c);
        lnOutB = Nd.upload(manager, weights.lnOutB, c);
        head = Nd.linearWeight(manager, weights.head, cfg.vocab(), c);    // [C,V]
        this.device = new Rwkv7Device(manager, weights, wkvChunk);
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
        return host.parameterCount();
    }

    @Override
    public Rwkv7State zeroState() {
        return new Rwkv7State(cfg);
    }

    @Override
    public float[] forward(ModelState modelState, int[] tokens, boolean wantLogits) {
        Rwkv7State state = (Rwkv7State) modelState;
        if (tokens.length == 0) return null;
        if (cpu == null) return deviceForward(state, tokens, wantLogits);
        float[] logits = null;
        for (int from = 0; from < tokens.length; from += chunkSize) {
            int to = Math.min(tokens.length, from + chunkSize);
            boolean last = wantLogits && to == tokens.length;
            logits = cpu.forward(state, tokens, from, to, last);
        }
        return logits;
    }

    /** NDArrays alive under this model: its weights, plus any a forward pass failed to release (for tests). */
    int liveArrays() {
        return manager.getManagedArrays().size();
    }

    /**
     * The NDArray-only path: the state goes up once, stays NDArrays through every chunk and layer, and comes
     * back once. Each chunk's intermediates are closed with the chunk's manager; the state is moved from one
     * chunk's manager to the next.
     */
    private float[] deviceForward(Rwkv7State state, int[] tokens, boolean wantLogits) {
        float[] logits = null;
        try (NDManager call = manager.newSubManager(); NDScope ignored = new NDScope()) {
            Rwkv7Device.DeviceState ds = upload(call, List.of(state));
            for (int from = 0; from < tokens.length; from += chunkSize) {
                int to = Math.min(tokens.length, from + chunkSize);
                try (NDManager cm = call.newSubManager()) {
                    ds.attach(cm);
                    NDArray x = embed(cm, tokens, from, to).reshape(1, to - from, cfg.dim()); // [1,T,C]
                    x = device.blocks(x, ds);                                                 // [1,T,C]
                    if (wantLogits && to == tokens.length) logits = head(x).toFloatArray();   // [1,V]
                    ds.attach(call);
                }
            }
            download(ds, List.of(state));
        }
        state.position += tokens.length;
        return logits;
    }

    /** ln0(emb[tokens[from,to)]) as [T,C] on {@code m}. */
    private NDArray embed(NDManager m, int[] tokens, int from, int to) {
        int t = to - from, c = cfg.dim();
        float[] e = new float[t * c];
        for (int i = 0; i < t; i++) {
            int tok = tokens[from + i];
            if (tok < 0 || tok >= cfg.vocab()) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
            System.arraycopy(host.emb, tok * c, e, i * c, c);
        }
        return Nd.layerNorm(m.create(e, new Shape(t, c)), ln0W, ln0B, Rwkv7Config.LAYER_NORM_EPS); // [T,C]
    }

    /** Logits of each row's last token: [B,T,C] → [B,V]. */
    private NDArray head(NDArray x) {
        NDArray last = Nd.layerNorm(Rwkv7Device.last(x), lnOutW, lnOutB, Rwkv7Config.LAYER_NORM_EPS); // [B,C]
        return last.matMul(head);                                                                  // [B,V]
    }

    /** Floats of one sequence's state, all layers: att_x_prev [C], att_kv [H*N*N], ffn_x_prev [C] per layer. */
    private int packedStateLength() {
        int c = cfg.dim(), n = cfg.headSize();
        return cfg.layers() * (2 * c + cfg.heads() * n * n);
    }

    /** The states of B sequences as one upload ([B, packed]), sliced per layer on the device. */
    private Rwkv7Device.DeviceState upload(NDManager m, List<Rwkv7State> states) {
        int b = states.size(), per = packedStateLength(), c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        float[] packed = new float[b * per];
        for (int i = 0; i < b; i++) {
            Rwkv7State s = states.get(i);
            int off = i * per;
            for (int l = 0; l < cfg.layers(); l++) {
                System.arraycopy(s.attXPrev[l], 0, packed, off, c);
                off += c;
                System.arraycopy(s.attKv[l], 0, packed, off, h * n * n);
                off += h * n * n;
                System.arraycopy(s.ffnXPrev[l], 0, packed, off, c);
                off += c;
            }
        }
        NDArray all = m.create(packed, new Shape(b, per));                              // [B, packed]
        Rwkv7Device.DeviceState ds = new Rwkv7Device.DeviceState(cfg.layers());
        int off = 0;
        for (int l = 0; l < cfg.layers(); l++) {
            ds.attX[l] = all.get(":," + off + ":" + (off + c));                         // [B,C]
            off += c;
            ds.kv[l] = all.get(":," + off + ":" + (off + h * n * n)).reshape(b, h, n, n); // [B,H,N,N]
            off += h * n * n;
            ds.ffnX[l] = all.get(":," + off + ":" + (off + c));                         // [B,C]
            off += c;
        }
        return ds;
    }

    /** The inverse of {@link #upload}: one download of all layers of all B sequences. */
    private void download(Rwkv7Device.DeviceState ds, List<Rwkv7State> states) {
        int b = states.size(), per = packedStateLength(), c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        NDList parts = new NDList();
        for (int l = 0; l < cfg.layers(); l++) {
            parts.add(ds.attX[l].reshape(b, c));
            parts.add(ds.kv[l].reshape(b, h * n * n));
            parts.add(ds.ffnX[l].reshape(b, c));
        }
        float[] packed = NDArrays.concat(parts, 1).toFloatArray();                      // [B, packed]
        for (int i = 0; i < b; i++) {
            Rwkv7State s = states.get(i);
            int off = i * per;
            for (int l = 0; l < cfg.layers(); l++) {
                System.arraycopy(packed, off, s.attXPrev[l], 0, c);
                off += c;
                System.arraycopy(packed, off, s.attKv[l], 0, h * n * n);
                off += h * n * n;
                System.arraycopy(packed, off, s.ffnXPrev[l], 0, c);
                off += c;
            }
        }
    }

    /**
     * One token for each of several sequences as one batched step: rows = sequences, on the CPU decode path
     * or on the NDArray-only path (one upload of the B states, one download of states and logits).
     */
    @Override
    public float[][] step(List<ModelState> states, int[] tokens) {
        if (cpu != null) return cpu.step(states.toArray(Rwkv7State[]::new), tokens);
        if (states.size() != tokens.length) throw new IllegalArgumentException(states.size() + " states but " + tokens.length + " tokens");
        List<Rwkv7State> rs = states.stream().map(s -> (Rwkv7State) s).toList();
        int b = tokens.length, v = cfg.vocab();
        float[] flat;
        try (NDManager call = manager.newSubManager(); NDScope ignored = new NDScope()) {
            Rwkv7Device.DeviceState ds = upload(call, rs);
            NDArray x = embed(call, tokens, 0, b).reshape(b, 1, cfg.dim());               // [B,1,C]
            flat = head(device.blocks(x, ds)).toFloatArray();                               // [B,V]
            download(ds, rs);
        }
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            rs.get(i).position++;
        }
        return out;
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
