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
import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.LibtorchMemory;
import io.engram.model.ops.Nd;
import io.engram.model.ops.ServedMatrix;
import io.engram.weights.ServeDtype;
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
    static final int HOST_ROWS = Integer.getInteger("engram.cpu.host-rows", 16);

    /**
     * Whether the CPU path multiplies whole chunks with its Java kernels too, instead of libtorch's GEMM: by
     * default where the kernels have their wide register tile ({@link CpuKernels#WIDE_TILES}, AVX-512), where
     * they are the faster of the two; {@code -Dengram.cpu.java-chunks=true|false} decides otherwise. Read when a
     * model is built.
     */
    static boolean javaChunksDefault() {
        String v = System.getProperty("engram.cpu.java-chunks");
        return v == null ? CpuKernels.WIDE_TILES : Boolean.parseBoolean(v);
    }

    private final Rwkv7Config cfg;
    private final ServeDtype serveDtype;
    private final long parameters;
    private final Rwkv7Weights host;
    private final NDManager manager;
    /** {@code emb.weight [V,C]}: float32, or bfloat16 when that is the served format (its values are then exact). */
    private final ServedMatrix embedding;
    /** Where off-heap served weights live, or null when they are Java arrays. */
    private final LibtorchMemory nativeWeights;
    private final int chunkSize;
    /** The CPU path (Java elementwise work and products; chunks' products in DJL unless {@link #javaChunks}), or null for the all-DJL blocks below. */
    private final Rwkv7Cpu cpu;
    /** Whether {@link #cpu} multiplies whole chunks in Java ({@link #javaChunksDefault}) rather than with libtorch. */
    private final boolean javaChunks;
    private final NDArray ln0W, ln0B, lnOutW, lnOutB, head;
    /** The NDArray-only blocks (GPU, or the CPU engine without the Java kernels), or null on the CPU path. */
    private final Rwkv7Device device;
    /** States kept on the device between calls (NDArray-only path), or null on the CPU path. */
    private final ResidentStates resident;

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
        this(weights, device, chunkSize, cpuKernels, ServeDtype.FLOAT32);
    }

    /**
     * @param serveDtype the format decode reads the large matrices in (CPU kernels only; priming's batched DJL
     *                   products stay float32). Anything but float32 on the all-DJL path is refused.
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, ServeDtype serveDtype) {
        this(weights, device, chunkSize, cpuKernels, DEFAULT_WKV_CHUNK, -1, serveDtype, false);
    }

    /**
     * @param offHeapWeights on the CPU path, keep the served matrices and the embedding off the Java heap (in
     *                       libtorch-allocated memory, see {@link LibtorchMemory}) instead of in Java arrays: for a
     *                       model larger than the heap. Decode is slower on JDK 17 (docs/PERFORMANCE.md).
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, ServeDtype serveDtype,
                      boolean offHeapWeights) {
        this(weights, device, chunkSize, cpuKernels, DEFAULT_WKV_CHUNK, -1, serveDtype, offHeapWeights);
    }

    /**
     * @param wkvChunk on the NDArray-only path, tokens per chunk of the chunked WKV form; 1 runs the recurrence
     *                 token by token (the reference the chunked form is tested against)
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, int wkvChunk) {
        this(weights, device, chunkSize, cpuKernels, wkvChunk, -1);
    }

    /** Device memory for states kept on the device between calls: {@value} bytes (0.1B: 420 states of 2.4 MB). */
    public static final long RESIDENT_BYTES = 1L << 30;

    /**
     * @param residentStates on the NDArray-only path, how many states stay on the device between calls (a decode
     *                       loop then moves no state to the host); 0 moves every state up and back per call, and
     *                       a negative value means as many as fit in {@link #RESIDENT_BYTES}
     */
    public Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, int wkvChunk,
                      int residentStates) {
        this(weights, device, chunkSize, cpuKernels, wkvChunk, residentStates, ServeDtype.FLOAT32, false);
    }

    private Rwkv7Model(Rwkv7Weights weights, Device device, int chunkSize, boolean cpuKernels, int wkvChunk,
                       int residentStates, ServeDtype serveDtype, boolean offHeapWeights) {
        if (wkvChunk < 1) throw new IllegalArgumentException("wkvChunk must be >= 1, got " + wkvChunk);
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
            nativeWeights = offHeapWeights ? new LibtorchMemory(manager) : null;
            javaChunks = javaChunksDefault();
            HostProjections projections = new HostProjections(weights, javaChunks ? Math.max(HOST_ROWS, chunkSize) : HOST_ROWS,
                    serveDtype, nativeWeights);
            embedding = ServedMatrix.build(Rwkv7Weights.rows(weights.emb), cfg.vocab(), c,
                    serveDtype == ServeDtype.BFLOAT16 ? ServeDtype.BFLOAT16 : ServeDtype.FLOAT32, nativeWeights);
            cpu = new Rwkv7Cpu(weights, embedding, projections,
                    javaChunks ? null : new DjlProjections(manager, weights, projections, chunkSize), chunkSize);
            ln0W = ln0B = lnOutW = lnOutB = head = null;
            this.device = null;
            this.resident = null;
            return;
        }
        cpu = null;
        javaChunks = false;
        nativeWeights = null;
        embedding = ServedMatrix.build(Rwkv7Weights.rows(weights.emb), cfg.vocab(), c, ServeDtype.FLOAT32, null);
        ln0W = Nd.upload(manager, weights.ln0W, c);
        ln0B = Nd.upload(manager, weights.ln0B, c);
        lnOutW = Nd.upload(manager, weights.lnOutW, c);
        lnOutB = Nd.upload(manager, weights.lnOutB, c);
        head = Nd.linearWeight(manager, weights.head.toFloatArray(), cfg.vocab(), c); // [C,V]
        this.device = new Rwkv7Device(manager, weights, wkvChunk);
        long bytes = 4L * packedStateLength();
        int capacity = residentStates >= 0 ? residentStates : (int) Math.max(1, Math.min(4096, RESIDENT_BYTES / bytes));
        this.resident = new ResidentStates(manager, capacity, this::unpack);
    }

    /**
     * For the owner of the weights (the model loader): drops the checkpoint's tensors of the large matrices and the
     * embedding, and the LoRA down-projections, which nothing reads once the model holds its own copies (a .pth
     * file's bytes would otherwise stay on the heap, a safetensors mapping stay open). The weights passed in must
     * not be used elsewhere afterwards.
     */
    public void releaseCheckpointTensors() {
        host.releaseConverted();
    }

    /** Bytes of served weights held off the Java heap (0 when they are Java arrays). */
    public long offHeapWeightBytes() {
        return nativeWeights == null ? 0 : nativeWeights.bytes();
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
        if (cpu == null) return deviceForward(state, tokens, wantLogits);
        state.sync();
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
            finish(ds, List.of(state));
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
            embedding.widenRow(tok, e, i * c);
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

    /**
     * The states of B sequences on the device as [B, packed], sliced per layer: those the model kept resident as
     * they are, the others in one upload.
     */
    private Rwkv7Device.DeviceState upload(NDManager m, List<Rwkv7State> states) {
        int b = states.size(), per = packedStateLength(), c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        NDArray[] rows = new NDArray[b];
        List<Integer> fromHost = new java.util.ArrayList<>();
        for (int i = 0; i < b; i++) {
            rows[i] = resident.take(states.get(i));
            if (rows[i] == null) fromHost.add(i);
            else rows[i].attach(m);                                                     // closed with this call
        }
        NDArray all;
        if (!fromHost.isEmpty()) {
            float[] packed = new float[fromHost.size() * per];
            for (int j = 0; j < fromHost.size(); j++) pack(states.get(fromHost.get(j)), packed, j * per);
            NDArray up = m.create(packed, new Shape(fromHost.size(), per));             // [k, packed]
            if (fromHost.size() == b) {
                all = up;
            } else {
                for (int j = 0; j < fromHost.size(); j++) rows[fromHost.get(j)] = up.get(j);
                all = NDArrays.stack(new NDList(rows), 0);                              // [B, packed]
            }
        } else {
            all = b == 1 ? rows[0].reshape(1, per) : NDArrays.stack(new NDList(rows), 0); // [B, packed]
        }
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

    /** The new states: kept on the device (one packed array per sequence) or, with no residency, one download. */
    private void finish(Rwkv7Device.DeviceState ds, List<Rwkv7State> states) {
        int b = states.size(), per = packedStateLength(), c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        NDList parts = new NDList();
        for (int l = 0; l < cfg.layers(); l++) {
            parts.add(ds.attX[l].reshape(b, c));
            parts.add(ds.kv[l].reshape(b, h * n * n));
            parts.add(ds.ffnX[l].reshape(b, c));
        }
        NDArray all = NDArrays.concat(parts, 1);                                        // [B, packed]
        if (resident.enabled()) {
            for (int i = 0; i < b; i++) resident.keep(states.get(i), b == 1 ? all.reshape(per) : all.get(i).duplicate());
            return;
        }
        float[] packed = all.toFloatArray();
        for (int i = 0; i < b; i++) unpack(packed, i * per, states.get(i));
    }

    private void pack(Rwkv7State s, float[] packed, int off) {
        int c = cfg.dim(), kv = cfg.heads() * cfg.headSize() * cfg.headSize();
        for (int l = 0; l < cfg.layers(); l++) {
            System.arraycopy(s.attXPrev[l], 0, packed, off, c);
            off += c;
            System.arraycopy(s.attKv[l], 0, packed, off, kv);
            off += kv;
            System.arraycopy(s.ffnXPrev[l], 0, packed, off, c);
            off += c;
        }
    }

    private void unpack(float[] packed, int off, Rwkv7State s) {
        int c = cfg.dim(), kv = cfg.heads() * cfg.headSize() * cfg.headSize();
        for (int l = 0; l < cfg.layers(); l++) {
            System.arraycopy(packed, off, s.attXPrev[l], 0, c);
            off += c;
            System.arraycopy(packed, off, s.attKv[l], 0, kv);
            off += kv;
            System.arraycopy(packed, off, s.ffnXPrev[l], 0, c);
            off += c;
        }
    }

    /** States the NDArray path holds on its device now (for tests). */
    int residentStates() {
        return resident == null ? 0 : resident.size();
    }

    /**
     * One token for each of several sequences as one batched step: rows = sequences, on the CPU decode path
     * or on the NDArray-only path (one upload of the B states, one download of states and logits).
     */
    @Override
    public float[][] step(List<ModelState> states, int[] tokens) {
        if (cpu != null) {
            for (ModelState st : states) ((Rwkv7State) st).sync();
            return cpu.step(states.toArray(Rwkv7State[]::new), tokens);
        }
        if (states.size() != tokens.length) throw new IllegalArgumentException(states.size() + " states but " + tokens.length + " tokens");
        List<Rwkv7State> rs = states.stream().map(s -> (Rwkv7State) s).toList();
        int b = tokens.length, v = cfg.vocab();
        float[] flat;
        try (NDManager call = manager.newSubManager(); NDScope ignored = new NDScope()) {
            Rwkv7Device.DeviceState ds = upload(call, rs);
            NDArray x = embed(call, tokens, 0, b).reshape(b, 1, cfg.dim());               // [B,1,C]
            flat = head(device.blocks(x, ds)).toFloatArray();                               // [B,V]
            finish(ds, rs);
        }
        float[][] out = new float[b][];
        for (int i = 0; i < b; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            rs.get(i).position++;
        }
        return out;
    }

    /** On the CPU path, one pass: the riding chunk shares the step's read of the weights ({@link Rwkv7Cpu#mixed}). */
    @Override
    public float[][] stepMixed(List<ModelState> states, int[] tokens, int[] counts, boolean[] wantLogits) {
        if (cpu == null || tokens.length > cpu.maxRows()) return LanguageModel.super.stepMixed(states, tokens, counts, wantLogits);
        for (ModelState st : states) ((Rwkv7State) st).sync();
        return cpu.mixed(states.toArray(Rwkv7State[]::new), tokens, counts, wantLogits);
    }

    /** Whether priming chunks are multiplied by the Java kernels (else libtorch's GEMM, or the device path). */
    public boolean javaChunks() {
        return javaChunks;
    }

    @Override
    public boolean mixesSteps() {
        return cpu != null;
    }

    @Override
    public ModelState combine(List<ModelState> states, double[] weights) {
        for (ModelState st : states) ((Rwkv7State) st).sync();
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
        if (resident != null) resident.close();                                       // states come home first
        manager.close();
    }
}
