package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;

/**
 * RWKV-7 (x070) in NDArray operations only: the path for a GPU (and for the CPU engine when the Java kernels are
 * switched off). The input is {@code [B,T,C]}: B independent sequences (rows of a batched decode step) of T
 * tokens each (a chunk of a document while priming). The state is NDArrays ({@link DeviceState}) from the first
 * layer to the last: nothing crosses to the host inside a forward pass, and the WKV recurrence is the chunked
 * form of {@link ChunkedWkv}.
 *
 * <p>Equations: {@code shared/oracle/README.md}; reference: BlinkDL/ChatRWKV {@code rwkv/model.py} (x070
 * {@code TMix_seq}, {@code CMix_seq}), BlinkDL/RWKV-LM {@code RWKV-v7}.
 *
 * <p>Ownership: every result is attached to the manager of its left operand, and the activations are always on
 * the left, so what a pass makes belongs to the caller's manager; the weights live on the model's manager.
 */
final class Rwkv7Device {

    /** The state of B sequences as NDArrays, one entry per layer. */
    static final class DeviceState {
        final NDArray[] attX;   // [B,C]  ln1 output of the previous token
        final NDArray[] kv;     // [B,H,N,N]
        final NDArray[] ffnX;   // [B,C]  ln2 output of the previous token

        DeviceState(int layers) {
            attX = new NDArray[layers];
            kv = new NDArray[layers];
            ffnX = new NDArray[layers];
        }

        /** Moves every state tensor to {@code m} (so it outlives a chunk's scope). */
        void attach(NDManager m) {
            for (int l = 0; l < kv.length; l++) {
                attX[l].attach(m);
                kv[l].attach(m);
                ffnX[l].attach(m);
            }
        }
    }

    private final Rwkv7Config cfg;
    private final int wkvChunk;
    private final Layer[] layers;

    /**
     * @param wkvChunk tokens per chunk of the chunked WKV form; 1 runs the recurrence token by token
     */
    Rwkv7Device(NDManager m, Rwkv7Weights weights, int wkvChunk) {
        this.cfg = weights.config;
        this.wkvChunk = wkvChunk;
        layers = new Layer[cfg.layers()];
        for (int i = 0; i < layers.length; i++) layers[i] = new Layer(m, cfg, weights.layers[i], i == 0);
    }

    /**
     * One pass over the blocks: {@code x} [B,T,C] (after ln0) to the residual stream after the last block;
     * {@code state} is advanced (its arrays replaced by ones on {@code x}'s manager).
     */
    NDArray blocks(NDArray x, DeviceState state) {
        NDArray vFirst = null;
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            NDArray[] att = w.timeMix(x, state, l, vFirst);
            vFirst = att[1];                                                            // [B,T,C]
            x = x.add(att[0]);                                                          // [B,T,C]
            x = x.add(w.channelMix(x, state, l));                                       // [B,T,C]
        }
        return x;
    }

    /** The weights of one block, uploaded once. */
    private final class Layer {
        private final Rwkv7Config cfg;
        private final boolean first;
        private final NDArray ln1W, ln1B, ln2W, ln2B;
        private final NDArray xR, xW, xK, xV, xA, xG;
        private final NDArray w0, w1, w2, a0, a1, a2, v0, v1, v2, g1, g2;
        private final NDArray kK, kA, rK;
        private final NDArray wR, wK, wV, wO;
        private final NDArray lnxW, lnxB, ones, zeros;
        private final NDArray ffnXK, ffnKey, ffnValue;

        Layer(NDManager m, Rwkv7Config cfg, Rwkv7Weights.Layer w, boolean first) {
            int c = cfg.dim();
            this.cfg = cfg;
            this.first = first;
            ln1W = Nd.upload(m, w.ln1W, c);
            ln1B = Nd.upload(m, w.ln1B, c);
            ln2W = Nd.upload(m, w.ln2W, c);
            ln2B = Nd.upload(m, w.ln2B, c);
            xR = Nd.upload(m, w.xR, c);
            xW = Nd.upload(m, w.xW, c);
            xK = Nd.upload(m, w.xK, c);
            xV = Nd.upload(m, w.xV, c);
            xA = Nd.upload(m, w.xA, c);
            xG = Nd.upload(m, w.xG, c);
            w0 = Nd.upload(m, w.w0, c);
            w1 = Nd.upload(m, w.w1, c, cfg.decayLora());
            w2 = Nd.upload(m, w.w2, cfg.decayLora(), c);
            a0 = Nd.upload(m, w.a0, c);
            a1 = Nd.upload(m, w.a1, c, cfg.aLora());
            a2 = Nd.upload(m, w.a2, cfg.aLora(), c);
            v0 = first ? null : Nd.upload(m, w.v0, c);
            v1 = first ? null : Nd.upload(m, w.v1, c, cfg.valueLora());
            v2 = first ? null : Nd.upload(m, w.v2, cfg.valueLora(), c);
            g1 = Nd.upload(m, w.g1, c, cfg.gateLora());
            g2 = Nd.upload(m, w.g2, cfg.gateLora(), c);
            kK = Nd.upload(m, w.kK, c);
            kA = Nd.upload(m, w.kA, c);
            rK = Nd.upload(m, w.rK, c);                                                  // [H*N], flattened r_k
            wR = Nd.linearWeight(m, w.wR.toFloatArray(), c, c);
            wK = Nd.linearWeight(m, w.wK.toFloatArray(), c, c);
            wV = Nd.linearWeight(m, w.wV.toFloatArray(), c, c);
            wO = Nd.linearWeight(m, w.wO.toFloatArray(), c, c);
            lnxW = Nd.upload(m, w.lnxW, c);
            lnxB = Nd.upload(m, w.lnxB, c);
            ones = m.ones(new Shape(cfg.headSize()));
            zeros = m.zeros(new Shape(cfg.headSize()));
            ffnXK = Nd.upload(m, w.ffnXK, c);
            ffnKey = Nd.linearWeight(m, w.ffnKey.toFloatArray(), cfg.ffnDim(), c);                     // [C,F]
            ffnValue = Nd.linearWeight(m, w.ffnValue.toFloatArray(), c, cfg.ffnDim());                 // [F,C]
        }

        /** Time mixing: {dx [B,T,C], v_first [B,T,C]}; advances att_x_prev and att_kv of this layer. */
        NDArray[] timeMix(NDArray x, DeviceState state, int l, NDArray vFirst) {
            long bs = x.getShape().get(0), t = x.getShape().get(1);
            int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();

            NDArray xa = Nd.layerNorm(x, ln1W, ln1B, Rwkv7Config.LAYER_NORM_EPS);      // [B,T,C]
            NDArray prev = shift(state.attX[l], xa);                                    // [B,T,C]
            NDArray xr = Nd.lerp(xa, prev, xR), xw = Nd.lerp(xa, prev, xW), xk = Nd.lerp(xa, prev, xK);
            NDArray xv = Nd.lerp(xa, prev, xV), xaa = Nd.lerp(xa, prev, xA), xg = Nd.lerp(xa, prev, xG);

            NDArray r = xr.matMul(wR);                                                  // [B,T,C]
            NDArray k = xk.matMul(wK);                                                  // [B,T,C]
            NDArray v = xv.matMul(wV);                                                  // [B,T,C]
            // log w = -e^-0.5 * sigmoid(w0 + tanh(x_w @ w1) @ w2); w in (0.5452, 1), kept in log form for the chunks
            NDArray logW = Activation.sigmoid(xw.matMul(w1).tanh().matMul(w2).add(w0))  // [B,T,C]
                    .mul(-ChunkedWkv.DECAY_SCALE);
            NDArray a = Activation.sigmoid(xaa.matMul(a1).matMul(a2).add(a0));         // [B,T,C] in-context rate
            NDArray g = Activation.sigmoid(xg.matMul(g1)).matMul(g2);                   // [B,T,C] output gate

            NDArray kk = k.mul(kK).reshape(bs, t, h, n);                                // [B,T,H,N]
            kk = kk.div(kk.norm(new int[] {-1}, true).maximum(1e-12f));                 // per-head L2 unit
            k = a.sub(1f).mul(kA).add(1f).mul(k);                                       // [B,T,C] k*(1+(a-1)*k_a)

            NDArray vFirstOut = vFirst;
            if (first) {
                vFirstOut = v;
            } else {
                NDArray mixV = Activation.sigmoid(xv.matMul(v1).matMul(v2).add(v0));   // [B,T,C]
                v = vFirst.sub(v).mul(mixV).add(v);                                     // v + (v_first - v)*mix
            }

            Shape heads = new Shape(bs, t, h, n);
            ChunkedWkv.Out wkv = ChunkedWkv.run(state.kv[l], r.reshape(heads), logW.reshape(heads),
                    k.reshape(heads), v.reshape(heads), kk.neg(), kk.mul(a.reshape(heads)), wkvChunk);
            state.kv[l] = wkv.state();                                                  // [B,H,N,N]

            NDArray yn = Nd.layerNorm(wkv.y(), ones, zeros, Rwkv7Config.GROUP_NORM_EPS) // [B,T,H,N] GroupNorm
                    .reshape(bs, t, c).mul(lnxW).add(lnxB);                             // [B,T,C]
            NDArray bonus = r.mul(k).mul(rK).reshape(heads).sum(new int[] {-1}, true);  // [B,T,H,1]
            yn = yn.add(bonus.mul(v.reshape(heads)).reshape(bs, t, c));                 // [B,T,C]
            NDArray dx = yn.mul(g).matMul(wO);                                          // [B,T,C]
            state.attX[l] = last(xa);                                                   // [B,C]
            return new NDArray[] {dx, vFirstOut};
        }

        /** Channel mixing: the residual update [B,T,C]; advances ffn_x_prev of this layer. */
        NDArray channelMix(NDArray x, DeviceState state, int l) {
            NDArray xf = Nd.layerNorm(x, ln2W, ln2B, Rwkv7Config.LAYER_NORM_EPS);      // [B,T,C]
            NDArray prev = shift(state.ffnX[l], xf);                                    // [B,T,C]
            NDArray k = Activation.relu(Nd.lerp(xf, prev, ffnXK).matMul(ffnKey)).square(); // [B,T,F]
            state.ffnX[l] = last(xf);                                                   // [B,C]
            return k.matMul(ffnValue);                                                  // [B,T,C]
        }
    }

    /** Token shift along T: row t is x's row t-1, row 0 is {@code prev} [B,C]. */
    static NDArray shift(NDArray prev, NDArray x) {
        long t = x.getShape().get(1);
        NDArray p = prev.expandDims(1);                                                 // [B,1,C]
        if (t == 1) return p;
        return NDArrays.concat(new NDList(p, x.get(":,0:" + (t - 1))), 1);              // [B,T,C]
    }

    /** The last token of each row: [B,T,C] → [B,C]. */
    static NDArray last(NDArray x) {
        long t = x.getShape().get(1);
        return x.get(":," + (t - 1));
    }
}
