package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@link Rwkv7Projections} for a chunk of tokens: each product is one {@code [t,C] x [C,C]} DJL (libtorch) matrix
 * product, which reaches the throughput of a tuned GEMM where a vector-matrix product cannot. Only the products
 * run here; the elementwise work stays in {@link Rwkv7Cpu}, so a layer costs a few native calls instead of a
 * hundred.
 *
 * <p>Inputs go in through reusable direct buffers that libtorch reads in place ({@code from_blob}); results come
 * back through a direct view of the result tensor, copied once into the host arrays. Every NDArray of a call lives
 * in a sub-manager closed when the call returns.
 */
final class DjlProjections implements Rwkv7Projections {

    private final Rwkv7Config cfg;
    private final NDManager manager;
    private final Layer[] layers;
    /** Input staging buffers, one per input of the widest call (the six time-mix inputs). */
    private final ByteBuffer[] staging = new ByteBuffer[6];

    /** One block's matrices, transposed to {@code [in, out]} for {@code x @ W}. */
    private static final class Layer {
        NDArray wR, wK, wV, wO, w1, w2, a1, a2, v1, v2, g1, g2, key, value;
    }

    DjlProjections(NDManager parent, Rwkv7Weights weights, int maxRows) {
        cfg = weights.config;
        manager = parent.newSubManager();
        int c = cfg.dim(), f = cfg.ffnDim();
        layers = new Layer[cfg.layers()];
        for (int l = 0; l < layers.length; l++) {
            Rwkv7Weights.Layer w = weights.layers[l];
            Layer d = layers[l] = new Layer();
            d.wR = Nd.linearWeight(manager, w.wR, c, c);
            d.wK = Nd.linearWeight(manager, w.wK, c, c);
            d.wV = Nd.linearWeight(manager, w.wV, c, c);
            d.wO = Nd.linearWeight(manager, w.wO, c, c);
            d.w1 = Nd.upload(manager, w.w1, c, cfg.decayLora());
            d.w2 = Nd.upload(manager, w.w2, cfg.decayLora(), c);
            d.a1 = Nd.upload(manager, w.a1, c, cfg.aLora());
            d.a2 = Nd.upload(manager, w.a2, cfg.aLora(), c);
            if (w.v1 != null) {
                d.v1 = Nd.upload(manager, w.v1, c, cfg.valueLora());
                d.v2 = Nd.upload(manager, w.v2, cfg.valueLora(), c);
            }
            d.g1 = Nd.upload(manager, w.g1, c, cfg.gateLora());
            d.g2 = Nd.upload(manager, w.g2, cfg.gateLora(), c);
            d.key = Nd.linearWeight(manager, w.ffnKey, f, c);       // [C,F]
            d.value = Nd.linearWeight(manager, w.ffnValue, c, f);   // [F,C]
        }
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
            download(xr.matMul(d.wR), z.r, t);
            download(xk.matMul(d.wK), z.k, t);
            download(xv.matMul(d.wV), z.v, t);
            download(xw.matMul(d.w1).tanh().matMul(d.w2), z.w, t);
            download(xa.matMul(d.a1).matMul(d.a2), z.a, t);
            download(Activation.sigmoid(xg.matMul(d.g1)).matMul(d.g2), z.g, t);
            if (d.v1 != null) download(xv.matMul(d.v1).matMul(d.v2), z.vMix, t);
        }
    }

    @Override
    public void timeMixOut(int l, int t, Rwkv7Activations z) {
        try (NDManager sm = manager.newSubManager()) {
            download(upload(sm, 0, z.y, t).matMul(layers[l].wO), z.dx, t);
        }
    }

    @Override
    public void channelMix(int l, int t, Rwkv7Activations z) {
        Layer d = layers[l];
        try (NDManager sm = manager.newSubManager()) {
            NDArray hidden = Activation.relu(upload(sm, 0, z.xk, t).matMul(d.key)).square();   // [t,F]
            download(hidden.matMul(d.value), z.dx, t);
        }
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
