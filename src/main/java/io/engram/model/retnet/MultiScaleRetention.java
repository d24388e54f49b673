package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
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
 * The recurrent form outputs {@code raw_i / sqrt(scale_i)}; the parallel and chunkwise forms compute the same from
 * the whole block at once ({@link #block}), or, for comparison with torchscale, with its paradigm-specific positive
 * per-row normalisers ({@link Normalisation}), which the per-head RMSNorm that follows cancels up to its epsilon.
 * All three leave the same state: {@link #advance}.
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

    /**
     * What a block of positions shares across layers: the rotation tables and, for the block paradigms, the lags of
     * the decay mask. Made before any per-layer scope opens, so they live as long as the block.
     */
    static final class Block {
        final int n;
        private final Rotary rotary;
        private final Rotary.Tables rot;
        private final NDArray lag, causal;
        private NDArray mask;

        Block(NDManager m, Rotary rotary, long p0, int n, Paradigm p) {
            this.n = n;
            this.rotary = rotary;
            this.rot = rotary.tables(m, p0, n);
            NDArray[] lc = p == Paradigm.RECURRENT ? new NDArray[2] : Decays.lags(m, n);
            this.lag = lc[0];
            this.causal = lc[1];
        }

        /** @param x [H,n,dk]; returns it rotated by each token's absolute position, [H,n,dk]. */
        NDArray rotate(NDArray x) {
            return rotary.apply(x, rot);
        }

        /** The decay mask of heads [h0, h1), [g,n,n]; all heads' is kept for the next layers. */
        NDArray mask(Decays d, int h0, int h1) {
            if (h0 != 0 || h1 != d.heads()) return d.mask(lag, causal, h0, h1);
            if (mask == null) {
                mask = d.mask(lag, causal, 0, h1);
                NDScope.unregister(mask); // outlives the layer scope it is made in; freed with the block's manager
            }
            return mask;
        }
    }

    /**
     * @param x         [n,D] the residual stream entering the block
     * @param state     the sequence's state; this layer's kv and scale are advanced by the n tokens
     * @param chunkSize the configured chunk length (torchscale's chunkwise normaliser depends on it)
     * @return the residual update [n,D]
     */
    NDArray forward(NDArray x, RetNetState state, int layer, Block b, Paradigm p, Normalisation normalisation,
                    int chunkSize) {
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
        NDArray o = p == Paradigm.RECURRENT ? recurrent(qr, next)                            // [H,n,dv]
                : block(qr, kr, v, kv0, state.kv[layer], s0, b, p, normalisation, chunkSize);
        System.arraycopy(next.kv().toFloatArray(), 0, state.kv[layer], 0, state.kv[layer].length);
        System.arraycopy(next.scale(), 0, s0, 0, h);

        o = RmsNorm.apply(o, null, cfg.eps()).transpose(1, 0, 2).reshape(n, cfg.valueDim()); // [n,Dv] per-head norm
        return Activation.sigmoid(g).mul(g).mul(o).matMul(wo);                               // [n,D] swish gate
    }

    /**
     * One recurrent step for B sequences at once (rows = sequences, each at its own position; torchscale
     * {@code recurrent_forward} with a batch): per row and head, {@code s' = γs + 1},
     * {@code kv' = (γ sqrt(s) kv + v k̃^T) / sqrt(s')}, {@code o = kv' q̃}. The scales are B×H numbers and stay
     * on the host; kv stays NDArrays.
     *
     * @param x     [B,D] the residual stream entering the block
     * @param kv    [B,H,dv,dk] this layer's kv of each sequence
     * @param scale per sequence this layer's {@code scale [H]}, advanced in place
     * @param rot   the rotation of each row's position ({@link Rotary#tablesAt})
     * @return {residual update [B,D], kv' [B,H,dv,dk]}
     */
    NDArray[] stepBatch(NDArray x, NDArray kv, float[][] scale, Rotary rotary, Rotary.Tables rot) {
        NDManager sm = x.getManager();
        int bs = scale.length, h = cfg.heads(), dk = cfg.keyDim(), dv = cfg.headValueDim();

        NDArray hn = RmsNorm.apply(x, norm, cfg.eps());                                       // [B,D]
        NDArray q = rotary.apply(hn.matMul(wq).reshape(bs, h, dk), rot);                      // [B,H,dk]
        NDArray k = rotary.apply(hn.matMul(wk).mul(scaling).reshape(bs, h, dk), rot);         // [B,H,dk]
        NDArray v = hn.matMul(wv).reshape(bs, h, dv);                                         // [B,H,dv]
        NDArray g = hn.matMul(wg);                                                            // [B,Dv]

        float[] carry = new float[bs * h], inv = new float[bs * h];
        for (int b = 0; b < bs; b++) {
            for (int hh = 0; hh < h; hh++) {
                double s0 = scale[b][hh], s1 = decays.pow(hh, 1) * s0 + 1;
                carry[b * h + hh] = (float) (decays.pow(hh, 1) * Math.sqrt(s0) / Math.sqrt(s1));
                inv[b * h + hh] = (float) (1 / Math.sqrt(s1));
                scale[b][hh] = (float) s1;
            }
        }
        NDArray added = v.reshape(bs, h, dv, 1).matMul(k.reshape(bs, h, 1, dk))             // [B,H,dv,dk] v k̃^T
                .mul(sm.create(inv, new Shape(bs, h, 1, 1)));
        NDArray next = kv.mul(sm.create(carry, new Shape(bs, h, 1, 1))).add(added);         // [B,H,dv,dk]
        NDArray o = next.matMul(q.reshape(bs, h, dk, 1)).reshape(bs, h, dv);                // [B,H,dv]
        o = RmsNorm.apply(o, null, cfg.eps()).reshape(bs, cfg.valueDim());                   // [B,Dv] per-head norm
        return new NDArray[] {Activation.sigmoid(g).mul(g).mul(o).matMul(wo), next};       // [B,D] swish gate
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
     * Parallel and chunkwise: the whole block at once with its n×n decay mask,
     * <pre>
     *   exact_i = raw_i / r_i,   r_i = sqrt(γ^(i+1) s0 + S_{i+1})   (the recurrent scale after token i)
     * </pre>
     * which is what n recurrent steps output. With {@link Normalisation#TORCHSCALE} each row is then multiplied by
     * the positive factor that turns it into torchscale's output, A_i = Σ_j γ^(i-j) |q̃_i·k̃_j| / r_i being the
     * absolute row sum of the normalised in-block scores:
     * <ul>
     *   <li>parallel ({@code parallel_forward}, where r_i is its mask row normaliser from the zero state):
     *       {@code 1 / clamp(A_i, 1, 5e4)};</li>
     *   <li>chunkwise ({@code chunk_recurrent_forward}): its in-chunk mask rows are divided by
     *       c_i = sqrt(S_{i+1}) instead of r_i, its inner part by {@code max(1, A_i r_i/c_i)}, its cross-chunk part
     *       (read from R0/S_C) by {@code kvScale = max(1, max_v Σ_k |R0/S_C|)}, both by the larger of the two:
     *       {@code (r_i/c_i) / max(1, A_i r_i/c_i, kvScale)}. C is the configured chunk length; a short last chunk
     *       equals torchscale's zero padding for its real rows.</li>
     * </ul>
     * Heads go in groups so that one [g,n,n] block stays under {@value #PARALLEL_BLOCK_BYTES} bytes.
     */
    private NDArray block(NDArray qr, NDArray kr, NDArray v, NDArray kv0, float[] kv0Host, float[] s0, Block b,
                          Paradigm p, Normalisation norm, int chunkSize) {
        NDManager sm = qr.getManager();
        int n = b.n, h = cfg.heads();
        float[] r = new float[h * n], cross = new float[h * n], ratio = new float[h * n];
        for (int hh = 0; hh < h; hh++) {
            for (int i = 0; i < n; i++) {
                double ri = Math.sqrt(decays.pow(hh, i + 1) * s0[hh] + decays.sum(hh, i + 1));
                r[hh * n + i] = (float) ri;
                cross[hh * n + i] = (float) (decays.pow(hh, i + 1) * Math.sqrt(s0[hh]) / ri); // γ^(i+1) sqrt(s0) / r_i
                ratio[hh * n + i] = (float) (ri / Math.sqrt(decays.sum(hh, i + 1)));           // r_i / c_i
            }
        }
        NDArray rn = sm.create(r, new Shape(h, n, 1)), cr = sm.create(cross, new Shape(h, n, 1));
        int group = (int) Math.max(1, Math.min(h, PARALLEL_BLOCK_BYTES / (4L * n * n)));
        NDList parts = new NDList();
        for (int h0 = 0; h0 < h; h0 += group) {
            parts.add(headGroup(qr, kr, v, kv0, kv0Host, s0, b, p, norm, chunkSize, rn, cr, ratio, h0, Math.min(h, h0 + group)));
        }
        if (parts.size() == 1) return parts.get(0);
        NDArray all = NDArrays.concat(parts, 0);                                      // [H,n,dv]
        parts.close();
        return all;
    }

    /** {@link #block} for heads [h0, h1); its [g,n,n] temporaries are freed on return. */
    private NDArray headGroup(NDArray qr, NDArray kr, NDArray v, NDArray kv0, float[] kv0Host, float[] s0, Block b,
                              Paradigm p, Normalisation norm, int chunkSize, NDArray rn, NDArray cr, float[] ratio,
                              int h0, int h1) {
        NDManager sm = qr.getManager();
        int n = b.n;
        try (NDScope ignored = new NDScope()) {
            String hs = h0 + ":" + h1;
            NDArray qg = qr.get(hs), kg = kr.get(hs);                                  // [g,n,dk]
            NDArray mask = b.mask(decays, h0, h1).div(rn.get(hs));                    // [g,n,n] γ^(i-j) / r_i
            NDArray qk = qg.matMul(kg.transpose(0, 2, 1)).mul(mask);                   // [g,n,n]
            NDArray o = qk.matMul(v.get(hs))                                          // [g,n,dv] in-block part
                    .add(qg.mul(cr.get(hs)).matMul(kv0.get(hs).transpose(0, 2, 1)));  // + γ^(i+1) R0 q̃_i / r_i
            if (norm == Normalisation.TORCHSCALE) {
                NDArray a = qk.abs().sum(new int[] {-1}, true);                       // [g,n,1] A_i
                o = switch (p) {
                    case PARALLEL -> o.div(a.clip(1f, 5e4f));
                    case CHUNKWISE -> {
                        NDArray rc = sm.create(java.util.Arrays.copyOfRange(ratio, h0 * n, h1 * n), new Shape(h1 - h0, n, 1));
                        NDArray kvs = sm.create(kvScale(kv0Host, s0, h0, h1, chunkSize), new Shape(h1 - h0, 1, 1));
                        yield o.mul(rc).div(a.mul(rc).maximum(kvs));                  // kvs >= 1
                    }
                    case RECURRENT -> throw new IllegalStateException();
                };
            }
            NDScope.unregister(o);
            return o;
        }
    }

    /** torchscale's {@code kv_scale} before a chunk: {@code max(1, max_v Σ_k |R0[v,k]| / S_C)}, heads [h0, h1). */
    private float[] kvScale(float[] kv0, float[] s0, int h0, int h1, int chunkSize) {
        int dv = cfg.headValueDim(), dk = cfg.keyDim();
        float[] out = new float[h1 - h0];
        for (int hh = h0; hh < h1; hh++) {
            double worst = 0;
            for (int row = 0; row < dv; row++) {
                double abs = 0;
                for (int c = 0; c < dk; c++) abs += Math.abs(kv0[(hh * dv + row) * dk + c]);
                worst = Math.max(worst, abs);
            }
            out[hh - h0] = (float) Math.max(1, worst * Math.sqrt(s0[hh]) / decays.sum(hh, chunkSize));
        }
        return out;
    }
}
