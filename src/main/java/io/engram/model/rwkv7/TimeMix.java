package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;

/**
 * RWKV-7 time mixing for a chunk of T tokens ("attention" of x070). Mirrors {@code RWKV_x070_TMix_seq} in
 * BlinkDL/ChatRWKV {@code rwkv/model.py} and the equations in {@code shared/oracle/README.md}. Every token-wise
 * product runs for the whole chunk at once; only the WKV recurrence ({@link WkvRecurrence}) is sequential.
 */
final class TimeMix {

    private final Rwkv7Config cfg;
    private final boolean first;
    private final NDArray ln1W, ln1B;
    private final NDArray xR, xW, xK, xV, xA, xG;
    private final NDArray w0, w1, w2, a0, a1, a2, v0, v1, v2, g1, g2;
    private final NDArray kK, kA, rK;
    private final NDArray wR, wK, wV, wO;
    private final NDArray lnxW, lnxB, ones, zeros;

    TimeMix(NDManager m, Rwkv7Config cfg, Rwkv7Weights.Layer w, boolean first) {
        int c = cfg.dim();
        this.cfg = cfg;
        this.first = first;
        ln1W = Nd.upload(m, w.ln1W, c);
        ln1B = Nd.upload(m, w.ln1B, c);
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
        rK = Nd.upload(m, w.rK, cfg.heads(), cfg.headSize());
        wR = Nd.linearWeight(m, w.wR, c, c);
        wK = Nd.linearWeight(m, w.wK, c, c);
        wV = Nd.linearWeight(m, w.wV, c, c);
        wO = Nd.linearWeight(m, w.wO, c, c);
        lnxW = Nd.upload(m, w.lnxW, c);
        lnxB = Nd.upload(m, w.lnxB, c);
        ones = m.ones(new Shape(cfg.headSize()));
        zeros = m.zeros(new Shape(cfg.headSize()));
    }

    /** Result of a time-mix pass: the residual update and layer 0's value (used by later layers). */
    record Out(NDArray dx, NDArray vFirst) {}

    /**
     * @param x      [T,C] the residual stream entering the block
     * @param state  the sequence's state; {@code att_x_prev} and {@code att_kv} of this layer are advanced
     * @param layer  this block's index
     * @param vFirst [T,C] layer 0's values, or null in layer 0
     */
    Out forward(NDArray x, Rwkv7State state, int layer, NDArray vFirst) {
        NDManager sm = x.getManager();
        int t = (int) x.getShape().get(0), c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();

        NDArray xa = Nd.layerNorm(x, ln1W, ln1B, Rwkv7Config.LAYER_NORM_EPS);           // [T,C]
        NDArray prev = Nd.shift(sm.create(state.attXPrev[layer], new Shape(1, c)), xa); // [T,C]
        NDArray xr = Nd.lerp(xa, prev, xR), xw = Nd.lerp(xa, prev, xW), xk = Nd.lerp(xa, prev, xK);
        NDArray xv = Nd.lerp(xa, prev, xV), xaa = Nd.lerp(xa, prev, xA), xg = Nd.lerp(xa, prev, xG);

        NDArray r = xr.matMul(wR);                                                       // [T,C]
        NDArray k = xk.matMul(wK);                                                       // [T,C]
        NDArray v = xv.matMul(wV);                                                       // [T,C]
        // w = exp(-e^-0.5 * sigmoid(w0 + tanh(x_w @ w1) @ w2)), the per-channel decay in (0.5452, 1)
        NDArray w = Activation.sigmoid(xw.matMul(w1).tanh().matMul(w2).add(w0))          // [T,C]
                .mul(-Math.exp(-0.5)).exp();
        NDArray a = Activation.sigmoid(xaa.matMul(a1).matMul(a2).add(a0));              // [T,C] in-context rate
        NDArray g = Activation.sigmoid(xg.matMul(g1)).matMul(g2);                        // [T,C] output gate

        NDArray kk = k.mul(kK).reshape(t, h, n);                                         // [T,H,N]
        kk = kk.div(kk.norm(new int[] {-1}, true).maximum(1e-12f)).reshape(t, c);       // [T,C] per-head L2 unit
        k = a.sub(1f).mul(kA).add(1f).mul(k);                                            // [T,C] k*(1+(a-1)*k_a)

        NDArray vFirstOut = vFirst;
        if (first) {
            vFirstOut = v;
        } else {
            NDArray mixV = Activation.sigmoid(xv.matMul(v1).matMul(v2).add(v0));        // [T,C]
            v = vFirst.sub(v).mul(mixV).add(v);                                          // v + (v_first - v)*mix
        }

        // S = S*w + (S @ -kk)(kk*a)^T + v k^T ; y = S r   (sequential over the chunk, in Java)
        float[] y = WkvRecurrence.run(t, h, n, state.attKv[layer],
                r.toFloatArray(), w.toFloatArray(), k.toFloatArray(), v.toFloatArray(),
                kk.neg().toFloatArray(), kk.mul(a).toFloatArray());
        NDArray yn = sm.create(y, new Shape(t, h, n));                                   // [T,H,N]
        yn = Nd.layerNorm(yn, ones, zeros, Rwkv7Config.GROUP_NORM_EPS)                   // per-head GroupNorm
                .reshape(t, c).mul(lnxW).add(lnxB);                                      // [T,C]
        NDArray bonus = r.mul(k).mul(rK.reshape(c)).reshape(t, h, n).sum(new int[] {-1}, true); // [T,H,1]
        yn = yn.add(bonus.mul(v.reshape(t, h, n)).reshape(t, c));                        // [T,C]
        NDArray dx = yn.mul(g).matMul(wO);                                               // [T,C]

        System.arraycopy(xa.get(t - 1).toFloatArray(), 0, state.attXPrev[layer], 0, c);
        return new Out(dx, vFirstOut);
    }
}
