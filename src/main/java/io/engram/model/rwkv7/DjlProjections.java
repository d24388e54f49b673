package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.CpuTeam;
import io.engram.model.ops.Nd;
import io.engram.model.ops.ServedMatrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * {@link Rwkv7Projections} for a chunk of tokens: each product is one {@code [t,C] x [C,C]} DJL (libtorch) matrix
 * product, which reaches the throughput of a tuned GEMM where a vector-matrix product cannot. Only the products
 * run here; the elementwise work stays in {@link Rwkv7Cpu}, so a layer costs a few native calls instead of a
 * hundred.
 *
 * <p>The large matrices are the decode kernels' own ({@link HostProjections}, in the served format), so the model
 * holds one copy of them: float32 off the heap is read by libtorch in place; any other storage (a heap array, or a
 * bfloat16/int8 format libtorch cannot multiply) is widened into one float32 scratch matrix just before its
 * product ({@link ServedMatrix#widenRows}, split across the {@link CpuTeam}), a pass over the weights that costs
 * little beside a GEMM of a chunk's rows. The small LoRA matrices are uploaded once.
 *
 * <p>Inputs go in through reusable direct buffers that libtorch reads in place ({@code from_blob}); results come
 * back through a direct view of the result tensor, copied once into the host arrays. Every NDArray of a call lives
 * in a sub-manager closed when the call returns.
 */
final class DjlProjections implements Rwkv7Projections {

    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    private final Rwkv7Config cfg;
    private final NDManager manager;
    private final Layer[] layers;
    /** Input staging buffers, one per input of the widest call (the six time-mix inputs). */
    private final ByteBuffer[] staging = new ByteBuffer[6];
    /** The float32 scratch matrix that served weights are widened into, sized for the largest, or null. */
    private final ByteBuffer scratch;

    /** Indices into {@link Layer#large}, in the order of {@link HostProjections#large}. */
    private static final int R = 0, K = 1, V = 2, O = 3, FFN_KEY = 4, FFN_VALUE = 5;

    /** One block's matrices: LoRAs as {@code [in, out]} tensors; the large ones as served, plus aliases where libtorch can read them. */
    private static final class Layer {
        NDArray w1, w2, a1, a2, v1, v2, g1, g2;
        /** r, k, v, output, ffn key, ffn value, as the decode kernels hold them. */
        ServedMatrix[] large;
        /** {@code W^T} views over off-heap float32 storage, by index into {@link #large}; null entries are widened per call. */
        final NDArray[] inPlace = new NDArray[6];
    }

    DjlProjections(NDManager parent, Rwkv7Weights weights, HostProjections host, int maxRows) {
        cfg = weights.config;
        manager = parent.newSubManager();
        int c = cfg.dim();
        layers = new Layer[cfg.layers()];
        long widest = 0;
        for (int l = 0; l < layers.length; l++) {
            Rwkv7Weights.Layer w = weights.layers[l];
            Layer d = layers[l] = new Layer();
            // the LoRAs with the decode kernels' values (widened where they are served), so priming agrees with decode
            d.w1 = Nd.upload(manager, host.loraDown(HostProjections.LORA_W, l), c, cfg.decayLora());
            d.w2 = Nd.upload(manager, host.loraUp(HostProjections.LORA_W, l), cfg.decayLora(), c);
            d.a1 = Nd.upload(manager, host.loraDown(HostProjections.LORA_A, l), c, cfg.aLora());
            d.a2 = Nd.upload(manager, host.loraUp(HostProjections.LORA_A, l), cfg.aLora(), c);
            if (w.v1 != null) {
                d.v1 = Nd.upload(manager, host.loraDown(HostProjections.LORA_V, l), c, cfg.valueLora());
                d.v2 = Nd.upload(manager, host.loraUp(HostProjections.LORA_V, l), cfg.valueLora(), c);
            }
            d.g1 = Nd.upload(manager, host.loraDown(HostProjections.LORA_G, l), c, cfg.gateLora());
            d.g2 = Nd.upload(manager, host.loraUp(HostProjections.LORA_G, l), cfg.gateLora(), c);
            ServedMatrix[] large = d.large = host.large(l);
            for (int i = 0; i < large.length; i++) {
                ByteBuffer f32 = large[i].float32Buffer();
                if (f32 != null) {
                    d.inPlace[i] = manager.create(f32, new Shape(large[i].out, large[i].in), DataType.FLOAT32).transpose(); // [in,out] view
                } else {
                    widest = Math.max(widest, (long) large[i].out * large[i].in);
                }
            }
        }
        scratch = widest == 0 ? null : ByteBuffer.allocateDirect(Math.toIntExact(4 * widest)).order(ByteOrder.nativeOrder());
        for (int i = 0; i < staging.length; i++) {
            staging[i] = ByteBuffer.allocateDirect(maxRows * c * Float.BYTES).order(ByteOrder.nativeOrder());
        }
    }

    @Override
    public void timeMixIn(int l, int t, Rwkv7Activations z) {
        Layer d = layers[l];
        try (NDManager sm = manager.newSubManager()) {
            NDArray xr = upload(sm, 0, z.xr, t), xw = upload(sm, 1, z.xw, t), xk = upload(sm, 2, z.xk, t);
            NDArray xv = upload(sm, 3, z.xv, t), xa = upload(sm, 4, z.xa, t), xg = upload(sm, 5, z.xg, t);
            download(xr.matMul(weightT(sm, d, R)), z.r, t);                           // [t,C]
            download(xk.matMul(weightT(sm, d, K)), z.k, t);
            download(xv.matMul(weightT(sm, d, V)), z.v, t);
            download(xw.matMul(d.w1).tanh().matMul(d.w2), z.w, t);
            download(xa.matMul(d.a1).matMul(d.a2), z.a, t);
            download(Activation.sigmoid(xg.matMul(d.g1)).matMul(d.g2), z.g, t);
            if (d.v1 != null) download(xv.matMul(d.v1).matMul(d.v2), z.vMix, t);
        }
    }

    @Override
    public void timeMixOut(int l, int t, Rwkv7Activations z) {
        Layer d = layers[l];
        try (NDManager sm = manager.newSubManager()) {
            download(upload(sm, 0, z.y, t).matMul(weightT(sm, d, O)), z.dx, t);
        }
    }

    @Override
    public void channelMix(int l, int t, Rwkv7Activations z) {
        Layer d = layers[l];
        try (NDManager sm = manager.newSubManager()) {
            NDArray hidden = Activation.relu(upload(sm, 0, z.xk, t).matMul(weightT(sm, d, FFN_KEY))).square(); // [t,F]
            download(hidden.matMul(weightT(sm, d, FFN_VALUE)), z.dx, t);                                      // [t,C]
        }
    }

    /**
     * {@code W^T [in, out]} of large matrix {@code i} of a layer: the in-place view, or the matrix widened into the
     * scratch (valid until the next call: each product is downloaded before the next weight is widened).
     */
    private NDArray weightT(NDManager sm, Layer d, int i) {
        if (d.inPlace[i] != null) return d.inPlace[i];
        ServedMatrix w = d.large[i];
        FloatBuffer dst = scratch.asFloatBuffer();
        int grain = Math.max(16, (1 << 16) / w.in);
        CpuTeam.forRange(w.out, grain, (from, to) -> {
            float[] row = ROW.get();
            if (row.length < w.in) ROW.set(row = new float[w.in]);
            w.widenRows(from, to, dst, row);
        });
        ByteBuffer view = scratch.duplicate().order(ByteOrder.nativeOrder());
        view.limit(4 * w.out * w.in);
        return sm.create(view, new Shape(w.out, w.in), DataType.FLOAT32).transpose();   // [in,out] view
    }

    /** Rows {@code [0,t)} of {@code src} as a {@code [t,C]} tensor over staging buffer {@code slot} (no copy in libtorch). */
    private NDArray upload(NDManager sm, int slot, float[] src, int t) {
        ByteBuffer b = staging[slot];
        b.clear();
        b.asFloatBuffer().put(src, 0, t * cfg.dim());
        b.limit(t * cfg.dim() * Float.BYTES);
        return sm.create(b, new Shape(t, cfg.dim()), DataType.FLOAT32);
    }

    /** Copies a contiguous {@code [t,C]} result into rows {@code [0,t)} of {@code dst}. */
    private void download(NDArray result, float[] dst, int t) {
        result.toByteBuffer(true).asFloatBuffer().get(dst, 0, t * cfg.dim());
    }

    /** Live NDArrays under this object (its weights, and any result a call failed to release). */
    int liveArrays() {
        return manager.getManagedArrays().size();
    }

    @Override
    public void close() {
        manager.close();
    }
}
