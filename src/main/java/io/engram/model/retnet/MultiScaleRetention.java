package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;

/**
 * The retention half of a RetNet block (torchscale {@code MultiScaleRetention} after the pre-norm), for a block of
 * n tokens at absolute positions {@code p0 .. p0+n-1} that continues from the layer's state.
 *
 * <p>Per head, with k̃, q̃ the rotated key and query (k scaled by dk^-0.5) and (kv0, s0) the state before the block,
 * {@code R0 = kv0·sqrt(s0)} is the un-normalised sum of the earlier tokens, and the exact retention of token i is
 * <pre>
 *   raw_i = Σ_{j<=i} γ^(i-j) (q̃_i·k̃_j) v_j  +  γ^(i+1) R0 q̃_i          (j, i local to the block)
 * </pre>
 * The three paradigms compute raw_i and divide it by different positive per-(head, token) normalisers, the ones of
 * torchscale's three code paths; the per-head RMSNorm that follows cancels any such factor up to its epsilon. All
 * three then leave the same state: {@link #advance}.
 */
final class MultiScaleRetention {

    /** Largest [heads, T, T] block the parallel form materialises at once (bytes); above it heads go in groups. */
    private static final long PARALLEL_BLOCK_BYTES = 256L << 20;

    private final RetNetConfig cfg;
    private final Decays decays;
    private final NDArray norm, wq, wk, wv, wg, wo;
    private final float scaling;

    MultiScaleRetention(NDManager m, RetNetConfig cfg, Decays decays, RetNetWeights.Layer w) {
        int d = cfg.dim(), dv = cfg.valueDim();
        this.cfg = cfg;
        this.decays = decays;
        this.scaling = (float) Math.pow(cfg.keyDim(), -0.5);
        norm = Nd.upload(m, w.retentionNorm, d);
        wq = Nd.linearWeight(m, w.q, d, d);    // [D,D]
        wk = Nd.linearWeight(m, w.k, d, d);    // [D,D]
        wv = Nd.linearWeight(m, w.v, dv, d);   // [D,Dv]
        wg = Nd.linearWeight(m, w.g, dv, d);   // [D,Dv]
        wo = Nd.linearWeight(m, w.out, d, dv); // [Dv,D]
    }

    /** What a block of positions shares across layers: the rotation tables and the decay mask (lazily). */
    static final class Block {
        final long p0;
        final int n;
        private final Rotary rotary;
        private final Rotary.Tables rot;
        private final NDManager m;
        private NDArray lag, causal, mask;

        Block(NDManager m, Rotary rotary, long p0, int n) {
            this.m = m;
            this.p0 = p0;
            this.n = n;
            this.rotary = rotary;
            this.rot = rotary.tables(m, p0, n);
        }

        /** @param x [H,n,dk]; returns it rotated by each token's absolute position, [H,n,dk]. */
        NDArray rotate(NDArray x) {
            return rotary.apply(x, rot);
        }

        NDArray mask(Decays d, int h0, int h1) {
            if (lag == null) {
                NDArray[] lc = Decays.lags(m, n);
                lag = lc[0];
                causal = lc[1];
            }
            if (h0 == 0 && h1 == d.heads()) {
                if (mask == null) mask = d.mask(lag, causal, 0, h1);
                return mask;
            }
            return d.mask(lag, causal, h0, h1);
        }
    }

    /**
     * @param x         [n,D] the residual stream entering the block
     * @param state     the sequence's state; this layer's kv and scale are advanced by the n tokens
     * @param chunkSize the configured chunk length (torchscale's chunkwise normaliser depends on it)
     * @return the residual update [n,D]
     */
    NDArray forward(NDArray x, RetNetState state, int layer, Block b, Paradigm p, int chunkSize) {
        NDManager sm = x.getManager();
        int n = b.n, h = cfg.heads(), dk = cfg.keyDim(), dv = cfg.headValueDim();

        NDArray hn = RmsNorm.apply(x, norm, cfg.eps());                                       // [n,D]
        NDArray q = hn.matMul(wq).reshape(n, h, dk).transpose(1, 0, 2);                       // [H,n,dk]
        NDArray k = hn.matMul(wk).mul(scaling).reshape(n, h, dk).transpose(1, 0, 2);          // [H,n,dk]
        NDArray v = hn.matMul(wv).reshape(n, h, dv).transpose(1, 0, 2);                       // [H,n,dv]
        NDArray g = hn.matMul(wg);                                                            // [n,Dv]
        NDArray qr = b.rotate(q), kr = b.rotate(k);                                           // [H,n,dk]

        float[] s0 = state.scale[layer];
        NDArray kv0 = sm.create(state.kv[layer], new Shape(h, dv, dk));                      // [H,dv,dk]
        Advanced next = advance(kr, v, kv0, s0);
        NDArray o = switch (p) {
            case PARALLEL -> parallel(qr, kr, v, kv0, s0, b);
            case CHUNKWISE -> chunk(qr, kr, v, kv0, state.kv[layer], s0, b, chunkSize);
            case RECURRENT -> recurrent(qr, next);
        };                                                                                    // [H,n,dv]
        System.arraycopy(next.kv().toFloatArray(), 0, state.kv[layer], 0, state.kv[layer].length);
        System.arraycopy(next.scale(), 0, s0, 0, h);

        o = RmsNorm.apply(o, null, cfg.eps()).transpose(1, 0, 2).reshape(n, cfg.valueDim()); // [n,Dv] per-head norm
        return Activation.sigmoid(g).mul(g).mul(o).matMul(wo);                               // [n,D] swish gate
    }

    /** The state after the block: {@code kv [H,dv,dk]} and {@code scale [H]}. */
    record Advanced(NDArray kv, float[] scale) {}

    /**
     * Reads the block into the state, exactly as n recurrent steps would:
     * <pre>
     *   s  = γ^n s0 + S_n                                     S_n = (1-γ^n)/(1-γ)
     *   kv = (γ^n R0 + Σ_j γ^(n-1-j) v_j k̃_j^T) / sqrt(s)     R0 = kv0·sqrt(s0)
     * </pre>
     * torchscale's chunkwise code never fills the state; this is its closed form, derived from the recurrent step
     * {@code s' = γs + 1, kv' = (γ sqrt(s) kv + v k̃^T)/sqrt(s')}.
     */
    private Advanced advance(NDArray kr, NDArray v, NDArray kv0, float[] s0) {
        NDManager sm = kr.getManager();
        int n = (int) kr.getShape().get(1), h = s0.length;
        float[] s = new float[h], carry = new float[h], kw = new float[h * n];
        for (int hh = 0; hh < h; hh++) {
            double sNew = decays.pow(hh, n) * s0[hh] + decays.sum(hh, n);
            double inv = 1 / Math.sqrt(sNew);
            s[hh] = (float) sNew;
            carry[hh] = (float) (decays.pow(hh, n) * Math.sqrt(s0[hh]) * inv);
            for (int j = 0; j < n; j++) kw[hh * n + j] = (float) (decays.pow(hh, n - 1 - j) * inv);
        }
        NDArray added = v.mul(sm.create(kw, new Shape(h, n, 1)))                      // [H,n,dv] γ^(n-1-j)/sqrt(s)
                .transpose(0, 2, 1).matMul(kr);                                       // [H,dv,dk]
        NDArray kv = kv0.mul(sm.create(carry, new Shape(h, 1, 1))).add(added);       // [H,dv,dk]
        return new Advanced(kv, s);
    }

    /**
     * Recurrent: one token, read from the state it has just been added to (torchscale {@code recurrent_forward}):
     * {@code o = kv' q̃ = raw / sqrt(s')}.
     */
    private NDArray recurrent(NDArray qr, Advanced next) {
        if (qr.getShape().get(1) != 1) throw new IllegalArgumentException("the recurrent form reads one token at a time");
        int h = cfg.heads(), dv = cfg.headValueDim();
        return next.kv().matMul(qr.transpose(0, 2, 1)).reshape(h, 1, dv);           // [H,1,dv]
    }

    /**
     * Parallel (torchscale {@code parallel_forward}): the whole block with its n×n decay mask, each mask row divided
     * by {@code sqrt(γ^(i+1) s0 + S_{i+1})} (the recurrent scale of token i; torchscale's {@code sqrt(Σ_j γ^(i-j))}
     * from the zero state), then each row of {@code qk⊙mask} by {@code clamp(Σ_j |qk⊙mask|, 1, 5e4)}. Heads go in
     * groups so that one [g,n,n] block stays under {@value #PARALLEL_BLOCK_BYTES} bytes.
     */
    private NDArray parallel(NDArray qr, NDArray kr, NDArray v, NDArray kv0, float[] s0, Block b) {
        NDManager sm = qr.getManager();
        int n = b.n, h = cfg.heads();
        float[] rowNorm = new float[h * n], cross = new float[h * n];
        for (int hh = 0; hh < h; hh++) {
            for (int i = 0; i < n; i++) {
                double r = Math.sqrt(decays.pow(hh, i + 1) * s0[hh] + decays.sum(hh, i + 1));
                rowNorm[hh * n + i] = (float) r;
                cross[hh * n + i] = (float) (decays.pow(hh, i + 1) * Math.sqrt(s0[hh]) / r);
            }
        }
        NDArray rn = sm.create(rowNorm, new Shape(h, n, 1)), cr = sm.create(cross, new Shape(h, n, 1));
        int group = (int) Math.max(1, Math.min(h, PARALLEL_BLOCK_BYTES / (4L * n * n)));
        NDList parts = new NDList();
        for (int h0 = 0; h0 < h; h0 += group) {
            int h1 = Math.min(h, h0 + group);
            String hs = h0 + ":" + h1;
            NDArray qg = qr.get(hs), kg = kr.get(hs);                                  // [g,n,dk]
            NDArray mask = b.mask(decays, h0, h1).div(rn.get(hs));                    // [g,n,n]
            NDArray qk = qg.matMul(kg.transpose(0, 2, 1)).mul(mask);                   // [g,n,n]
            NDArray denom = qk.abs().sum(new int[] {-1}, true).clip(1f, 5e4f);        // [g,n,1]
            NDArray num = qk.matMul(v.get(hs))                                        // [g,n,dv]
                    .add(qg.mul(cr.get(hs)).matMul(kv0.get(hs).transpose(0, 2, 1)));  // + γ^(i+1) R0 q̃_i / rowNorm
            parts.add(num.div(denom));                                                // [g,n,dv]
        }
        return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);          // [H,n,dv]
    }

    /**
     * Chunkwise (torchscale {@code chunk_recurrent_forward}, one chunk): mask rows divided by the in-chunk
     * {@code sqrt(S_{i+1})}, the inner part by {@code max(1, Σ_j |qk⊙mask|)}, the cross-chunk part read from
     * {@code R0/S_C} divided by {@code max(1, max_v Σ_k |R0/S_C|)}, and both by the larger of the two, C being the
     * configured chunk length (the last chunk may be shorter: torchscale pads it, which is the same for real rows).
     */
    private NDArray chunk(NDArray qr, NDArray kr, NDArray v, NDArray kv0, float[] kv0Host, float[] s0, Block b,
                          int chunkSize) {
        NDManager sm = qr.getManager();
        int n = b.n, h = cfg.heads(), dv = cfg.headValueDim(), dk = cfg.keyDim();
        float[] inner = new float[h * n], cross = new float[h * n], kvScale = new float[h];
        for (int hh = 0; hh < h; hh++) {
            for (int i = 0; i < n; i++) {
                double sc = Math.sqrt(decays.sum(hh, i + 1));
                inner[hh * n + i] = (float) sc;
                cross[hh * n + i] = (float) (decays.pow(hh, i + 1) * Math.sqrt(s0[hh]) / sc);
            }
            kvScale[hh] = 1f;
            if (s0[hh] != 0f) {
                double worst = 0;
                for (int row = 0; row < dv; row++) {
                    double abs = 0;
                    for (int c = 0; c < dk; c++) abs += Math.abs(kv0Host[(hh * dv + row) * dk + c]);
                    worst = Math.max(worst, abs);
                }
                kvScale[hh] = (float) Math.max(1, worst * Math.sqrt(s0[hh]) / decays.sum(hh, chunkSize));
            }
        }
        NDArray mask = b.mask(decays, 0, h).div(sm.create(inner, new Shape(h, n, 1)));    // [H,n,n]
        NDArray qk = qr.matMul(kr.transpose(0, 2, 1)).mul(mask);                          // [H,n,n]
        NDArray innerScale = qk.abs().sum(new int[] {-1}, true).maximum(1f);             // [H,n,1]
        NDArray num = qk.matMul(v)                                                       // [H,n,dv]
                .add(qr.mul(sm.create(cross, new Shape(h, n, 1))).matMul(kv0.transpose(0, 2, 1)));
        return num.div(innerScale.maximum(sm.create(kvScale, new Shape(h, 1, 1))));      // [H,n,dv]
    }
}
