package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;

/**
 * RWKV-7 channel mixing (the feed-forward block): {@code x += Wv relu(Wk lerp(xf, prev, x_k))^2}, with
 * {@code xf = LN(x; ln2)}. Mirrors {@code RWKV_x070_CMix_seq} in BlinkDL/ChatRWKV {@code rwkv/model.py}.
 */
final class ChannelMix {

    private final int dim;
    private final NDArray ln2W, ln2B, xK, key, value;

    ChannelMix(NDManager m, Rwkv7Config cfg, Rwkv7Weights.Layer w) {
        dim = cfg.dim();
        ln2W = Nd.upload(m, w.ln2W, dim);
        ln2B = Nd.upload(m, w.ln2B, dim);
        xK = Nd.upload(m, w.ffnXK, dim);
        key = Nd.linearWeight(m, w.ffnKey, cfg.ffnDim(), dim);   // [C,F]
        value = Nd.linearWeight(m, w.ffnValue, dim, cfg.ffnDim()); // [F,C]
    }

    /** @param x [T,C]; returns the residual update [T,C] and advances {@code ffn_x_prev}. */
    NDArray forward(NDArray x, Rwkv7State state, int layer) {
        int t = (int) x.getShape().get(0);
        NDArray xf = Nd.layerNorm(x, ln2W, ln2B, Rwkv7Config.LAYER_NORM_EPS);                // [T,C]
        NDArray prev = Nd.shift(x.getManager().create(state.ffnXPrev[layer], new Shape(1, dim)), xf); // [T,C]
        NDArray k = Activation.relu(Nd.lerp(xf, prev, xK).matMul(key)).square();             // [T,F]
        NDArray dx = k.matMul(value);                                                        // [T,C]
        System.arraycopy(xf.get(t - 1).toFloatArray(), 0, state.ffnXPrev[layer], 0, dim);
        return dx;
    }
}
