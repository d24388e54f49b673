package io.engram.model.rwkv7;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The RWKV-7 WKV recurrence in NDArray operations only, for a batch of sequences:
 * <pre>
 *   S_t = S_{t-1} diag(w_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,   y_t = S_t r_t       (a = -kk, b = kk*a_rate)
 * </pre>
 * with {@code S[h,i,j]}, i a value channel, j a key channel (the oracle README's layout).
 *
 * <p><b>Chunked form</b> (the generalised delta rule / DPLR form of flash-linear-attention's {@code chunk_dplr},
 * written here from the recurrence). Within a chunk of L tokens, with the cumulative decays
 * {@code W_t = prod_{s<=t} w_s} (from a cumulative sum of log w) and the unknown "removal" vectors
 * {@code u_t = S_{t-1} a_t}:
 * <pre>
 *   S_t = S_0 diag(W_t) + sum_{s<=t} (u_s b_s^T + v_s k_s^T) diag(W_t / W_s)
 *   u_t = S_0 (a_t W_{t-1}) + sum_{s<t} u_s &lt;a_t W_{t-1}, b_s / W_s&gt; + v_s &lt;a_t W_{t-1}, k_s / W_s&gt;
 *       =&gt; (I - A_ab) U = (a W_prev) S_0^T + A_ak V                         (A strictly lower triangular)
 *   Y   = (r W) S_0^T + A_rb U + A_rk V                                      (A_r* lower triangular, diagonal included)
 *   S_L = S_0 diag(W_L) + U^T (b W_L/W) + V^T (k W_L/W)
 * </pre>
 * {@code (I - A_ab)^-1} of the nilpotent A_ab is the finite product {@code (I+A)(I+A^2)(I+A^4)...}: log2(L)
 * batched products. Everything that does not depend on S_0 is computed for all chunks at once; only
 * {@code U = G S_0^T + U_local} and the state update are carried chunk by chunk (five products per chunk).
 * Since every decay is in (0.5452, 1), {@code 1/W} stays below {@code 0.5452^-L} (2.6e8 for L = 32), far from
 * float32's range, and the factored products lose no precision.
 *
 * <p>One token ({@code L = 1}, and every decode step) runs the recurrence itself, which is exact and cheaper.
 * Every operation is differentiable: training ({@link Rwkv7Trainable}) runs the same code under autograd.
 */
public final class ChunkedWkv {

    /** e^-0.5: log w = -e^-0.5 * sigmoid(z). */
    public static final float DECAY_SCALE = (float) Math.exp(-0.5);

    private ChunkedWkv() {}

    /** Result: y [B,T,H,N] and the new state [B,H,N,N]. */
    public record Out(NDArray y, NDArray state) {}

    /**
     * @param s     [B,H,N,N] the state before the first token (not modified)
     * @param r     [B,T,H,N] receptance
     * @param logW  [B,T,H,N] log of the decay (w = exp(logW))
     * @param k     [B,T,H,N] key (after the a-dependent rescale)
     * @param v     [B,T,H,N] value
     * @param a     [B,T,H,N] the removal direction (-kk)
     * @param b     [B,T,H,N] the removal rate (kk * a)
     * @param chunk tokens per chunk; 1 runs the recurrence token by token
     */
    public static Out run(NDArray s, NDArray r, NDArray logW, NDArray k, NDArray v, NDArray a, NDArray b, int chunk) {
        long t = r.getShape().get(1);
        if (chunk <= 1 || t == 1) return tokenByToken(s, r, logW, k, v, a, b);
        int l = (int) Math.min(chunk, t);
        long full = t / l * l;
        NDList ys = new NDList();
        NDArray state = s;
        if (full > 0) {
            Out o = chunks(state, slice(r, 0, full), slice(logW, 0, full), slice(k, 0, full), slice(v, 0, full),
                    slice(a, 0, full), slice(b, 0, full), l);
            ys.add(o.y());
            state = o.state();
        }
        if (full < t) {                                                                   // the partial last chunk
            Out o = chunks(state, slice(r, full, t), slice(logW, full, t), slice(k, full, t), slice(v, full, t),
                    slice(a, full, t), slice(b, full, t), (int) (t - full));
            ys.add(o.y());
            state = o.state();
        }
        return new Out(ys.size() == 1 ? ys.get(0) : NDArrays.concat(ys, 1), state);
    }

    /** The recurrence one token at a time (the definition); T small or L = 1. */
    static Out tokenByToken(NDArray s, NDArray r, NDArray logW, NDArray k, NDArray v, NDArray a, NDArray b) {
        long bs = r.getShape().get(0), t = r.getShape().get(1), h = r.getShape().get(2), n = r.getShape().get(3);
        NDArray w = logW.exp();                                                          // [B,T,H,N]
        NDList ys = new NDList();
        NDArray st = s;
        for (long i = 0; i < t; i++) {
            NDArray wi = token(w, i).reshape(bs, h, 1, n);                               // [B,H,1,N] per key column
            NDArray ai = token(a, i).reshape(bs, h, n, 1);                               // [B,H,N,1]
            NDArray bi = token(b, i).reshape(bs, h, 1, n);                               // [B,H,1,N]
            NDArray vi = token(v, i).reshape(bs, h, n, 1);                               // [B,H,N,1]
            NDArray ki = token(k, i).reshape(bs, h, 1, n);                               // [B,H,1,N]
            NDArray ri = token(r, i).reshape(bs, h, n, 1);                               // [B,H,N,1]
            st = st.mul(wi).add(st.matMul(ai).matMul(bi)).add(vi.matMul(ki));            // [B,H,N,N], old S on the right
            ys.add(st.matMul(ri).reshape(bs, 1, h, n));                                  // [B,1,H,N]
        }
        return new Out(ys.size() == 1 ? ys.get(0) : NDArrays.concat(ys, 1), st);
    }

    /** T = nc*L tokens as nc chunks of L. */
    private static Out chunks(NDArray s, NDArray r, NDArray logW, NDArray k, NDArray v, NDArray a, NDArray b, int l) {
        NDManager m = r.getManager();
        long bs = r.getShape().get(0), t = r.getShape().get(1), h = r.getShape().get(2), n = r.getShape().get(3);
        long nc = t / l;
        r = perChunk(r, nc, l);                                                          // [B,nc,H,L,N]
        logW = perChunk(logW, nc, l);
        k = perChunk(k, nc, l);
        v = perChunk(v, nc, l);
        a = perChunk(a, nc, l);
        b = perChunk(b, nc, l);

        NDArray cum = logW.cumSum(3);                                                    // [B,nc,H,L,N] log W_t
        NDArray cumL = cum.get(":,:,:," + (l - 1) + ":" + l + ",:");                     // [B,nc,H,1,N] log W_L
        NDArray wIncl = cum.exp();                                                       // W_t
        NDArray wExcl = cum.sub(logW).exp();                                             // W_{t-1}
        NDArray wInv = cum.neg().exp();                                                  // 1 / W_s, <= 0.5452^-L
        NDArray tail = cumL.sub(cum).exp();                                              // W_L / W_s, <= 1

        NDArray aw = a.mul(wExcl), rw = r.mul(wIncl);                                    // [B,nc,H,L,N]
        NDArray bInvT = b.mul(wInv).swapAxes(-1, -2), kInvT = k.mul(wInv).swapAxes(-1, -2); // [B,nc,H,N,L]
        NDArray strict = lowerMask(m, l, false), lower = lowerMask(m, l, true);          // [L,L]
        NDArray aab = aw.matMul(bInvT).mul(strict);                                      // [B,nc,H,L,L]
        NDArray aak = aw.matMul(kInvT).mul(strict);
        NDArray arb = rw.matMul(bInvT).mul(lower);
        NDArray ark = rw.matMul(kInvT).mul(lower);

        NDArray inv = unitLowerInverse(aab, l);                                          // (I - A_ab)^-1
        NDArray g = inv.matMul(aw);                                                      // [B,nc,H,L,N]  U = G S0^T + Ul
        NDArray uLocal = inv.matMul(aak.matMul(v));                                      // [B,nc,H,L,N]
        NDArray bTail = b.mul(tail), kv = v.swapAxes(-1, -2).matMul(k.mul(tail));        // [..,L,N], [B,nc,H,N,N]
        NDArray decayL = cumL.exp();                                                     // [B,nc,H,1,N] scales key columns

        NDList s0s = new NDList(), us = new NDList();
        NDArray st = s;                                                                  // [B,H,N,N]
        for (long c = 0; c < nc; c++) {
            String at = ":," + c;
            NDArray u = g.get(at).matMul(st.swapAxes(-1, -2)).add(uLocal.get(at));       // [B,H,L,N]
            s0s.add(st.expandDims(1));
            us.add(u.expandDims(1));
            st = st.mul(decayL.get(at))                                                  // [B,H,N,N]
                    .add(u.swapAxes(-1, -2).matMul(bTail.get(at)))
                    .add(kv.get(at));
        }
        NDArray s0 = nc == 1 ? s0s.get(0) : NDArrays.concat(s0s, 1);                     // [B,nc,H,N,N]
        NDArray uAll = nc == 1 ? us.get(0) : NDArrays.concat(us, 1);                     // [B,nc,H,L,N]
        NDArray y = rw.matMul(s0.swapAxes(-1, -2)).add(arb.matMul(uAll)).add(ark.matMul(v)); // [B,nc,H,L,N]
        y = y.transpose(0, 1, 3, 2, 4).reshape(bs, t, h, n);                             // [B,T,H,N]
        return new Out(y, st);
    }

    /** (I - A)^-1 for strictly lower-triangular A of size L: (I+A)(I+A^2)(I+A^4)... up to A^(L-1). */
    private static NDArray unitLowerInverse(NDArray a, int l) {
        NDArray eye = a.getManager().eye(l);                                             // [L,L]
        NDArray p = a.add(eye);
        NDArray pow = a;
        for (int reach = 2; reach < l; reach *= 2) {
            pow = pow.matMul(pow);                                                       // A^reach
            p = p.matMul(pow.add(eye));
        }
        return p;
    }

    /** [L,L] ones on and below (inclusive) or strictly below the diagonal. */
    private static NDArray lowerMask(NDManager m, int l, boolean inclusive) {
        float[] mask = new float[l * l];
        for (int i = 0; i < l; i++) {
            for (int j = 0; j < (inclusive ? i + 1 : i); j++) mask[i * l + j] = 1f;
        }
        return m.create(mask, new Shape(l, l));
    }

    /** [B,T,H,N] → [B,nc,H,L,N]. */
    private static NDArray perChunk(NDArray x, long nc, int l) {
        Shape sh = x.getShape();
        return x.reshape(sh.get(0), nc, l, sh.get(2), sh.get(3)).transpose(0, 1, 3, 2, 4);
    }

    private static NDArray slice(NDArray x, long from, long to) {
        return x.get(":," + from + ":" + to);
    }

    private static NDArray token(NDArray x, long i) {
        return x.get(":," + i);                                                          // [B,H,N]
    }
}
