package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.layerNorm;
import static io.engram.model.ops.CpuKernels.matVec;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuTeam;

/**
 * RWKV-7 on host memory: the CPU path, for a chunk of {@code t} tokens at once (priming) or one token (decode).
 * The equations are those of {@link TimeMix} and {@link ChannelMix} (ChatRWKV's {@code RWKV_x070_TMix_seq} /
 * {@code CMix_seq}), written once, row by row, in Java. The token-wise products go to a {@link Rwkv7Projections}:
 * Java matrix-vector kernels for a single token ({@link HostProjections}, bandwidth-bound), batched DJL products
 * for a chunk ({@link DjlProjections}, compute-bound). Everything elementwise, and the WKV recurrence, runs here,
 * split across the {@link CpuTeam} by rows or by heads.
 *
 * <p>Holds scratch buffers, so like the model it is not thread-safe.
 */
final class Rwkv7Cpu implements AutoCloseable {

    private static final float NEG_EXP_HALF = (float) -Math.exp(-0.5);
    private static final float LN_EPS = Rwkv7Config.LAYER_NORM_EPS;
    /** Rows (tokens) below which elementwise work is not split across threads. */
    private static final int ROW_GRAIN = 4;

    private final Rwkv7Weights wt;
    private final Rwkv7Config cfg;
    private final Rwkv7Projections single, batched;
    private final Rwkv7Activations z;
    private final float[] lnOut;

    /**
     * @param batched products for chunks of more than one token, or null to use {@code single} for every row
     * @param maxRows the longest chunk that {@link #forward} will be given
     */
    Rwkv7Cpu(Rwkv7Weights weights, Rwkv7Projections single, Rwkv7Projections batched, int maxRows) {
        this.wt = weights;
        this.cfg = weights.config;
        this.single = single;
        this.batched = batched;
        this.z = new Rwkv7Activations(cfg, maxRows);
        this.lnOut = new float[cfg.dim()];
    }

    int maxRows() {
        return z.rows;
    }

    /** Reads {@code tokens[from, to)} (at most {@link #maxRows()}) into {@code state}; logits after the last one if asked. */
    float[] forward(Rwkv7State state, int[] tokens, int from, int to, boolean wantLogits) {
        int t = to - from, c = cfg.dim();
        if (t > z.rows) throw new IllegalArgumentException("chunk of " + t + " tokens > " + z.rows);
        for (int i = 0; i < t; i++) {
            int tok = tokens[from + i];
            if (tok < 0 || tok >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
            layerNorm(wt.emb, tok * c, c, wt.ln0W, 0, wt.ln0B, 0, LN_EPS, z.x, i * c);
        }
        Rwkv7Projections p = t == 1 || batched == null ? single : batched;
        for (int l = 0; l < cfg.layers(); l++) {
            timeMix(p, wt.layers[l], state, l, t);
            channelMix(p, wt.layers[l], state, l, t);
        }
        state.position += t;
        if (!wantLogits) return null;
        layerNorm(z.x, (t - 1) * c, c, wt.lnOutW, 0, wt.lnOutB, 0, LN_EPS, lnOut, 0);
        float[] logits = new float[cfg.vocab()];
        matVec(wt.head, cfg.vocab(), c, lnOut, logits);
        return logits;
    }

    private void timeMix(Rwkv7Projections p, Rwkv7Weights.Layer w, Rwkv7State state, int l, int t) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        float[] prev = state.attXPrev[l];
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) layerNorm(z.x, row * c, c, w.ln1W, 0, w.ln1B, 0, LN_EPS, z.ln, row * c);
        });
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {             // lerp toward the previous token (token shift)
                float[] pv = row == 0 ? prev : z.ln;
                int o = row * c, po = row == 0 ? 0 : o - c;
                for (int i = 0; i < c; i++) {
                    float x = z.ln[o + i], d = pv[po + i] - x;
                    z.xr[o + i] = x + d * w.xR[i];
                    z.xw[o + i] = x + d * w.xW[i];
                    z.xk[o + i] = x + d * w.xK[i];
                    z.xv[o + i] = x + d * w.xV[i];
                    z.xa[o + i] = x + d * w.xA[i];
                    z.xg[o + i] = x + d * w.xG[i];
                }
            }
        });
        System.arraycopy(z.ln, (t - 1) * c, prev, 0, c);

        p.timeMixIn(l, t, z);

        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) mixVectors(w, l, row * c);
        });
        // S = S*w + (S @ -kk)(kk*a)^T + v k^T ; y = S r ; then GroupNorm, bonus and gate: independent per head
        float[] s = state.attKv[l];
        CpuTeam.forRange(h, 1, (h0, h1) -> {
            for (int head = h0; head < h1; head++) {
                for (int row = 0; row < t; row++) {
                    int o = row * c + head * n;
                    WkvRecurrence.step(n, s, head * n * n, z.r, z.w, z.k, z.v, z.negKk, z.kkA, o, z.y);
                    layerNorm(z.y, o, n, w.lnxW, head * n, w.lnxB, head * n, Rwkv7Config.GROUP_NORM_EPS, z.y, o);
                    float bonus = 0f;                        // (r . k * r_k) v
                    for (int j = 0; j < n; j++) bonus += z.r[o + j] * z.k[o + j] * w.rK[head * n + j];
                    for (int j = 0; j < n; j++) z.y[o + j] = (z.y[o + j] + bonus * z.v[o + j]) * z.g[o + j];
                }
            }
        });

        p.timeMixOut(l, t, z);
        addResidual(t);
    }

    /**
     * One token's w, a, v, kk and k from the projections (row offset {@code o}):
     * <pre>
     *   w  = exp(-e^-0.5 sigmoid(w0 + w))           the per-channel decay, in (0.5452, 1)
     *   a  = sigmoid(a0 + a)                         the in-context learning rate
     *   v += (v_first - v) sigmoid(v0 + vMix)       (layer 0: v_first = v)
     *   kk = L2-normalise(k * k_k) per head ;  k = k * (1 + (a - 1) k_a)
     * </pre>
     */
    private void mixVectors(Rwkv7Weights.Layer w, int l, int o) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        for (int i = 0; i < c; i++) z.w[o + i] += w.w0[i];
        CpuKernels.sigmoid(z.w, o, c);
        for (int i = 0; i < c; i++) z.w[o + i] *= NEG_EXP_HALF;
        CpuKernels.exp(z.w, o, c);
        for (int i = 0; i < c; i++) z.a[o + i] += w.a0[i];
        CpuKernels.sigmoid(z.a, o, c);
        if (l == 0) {
            System.arraycopy(z.v, o, z.vFirst, o, c);
        } else {
            for (int i = 0; i < c; i++) z.vMix[o + i] += w.v0[i];
            CpuKernels.sigmoid(z.vMix, o, c);
            for (int i = 0; i < c; i++) z.v[o + i] += (z.vFirst[o + i] - z.v[o + i]) * z.vMix[o + i];
        }
        for (int hh = 0; hh < h; hh++) {
            int ho = o + hh * n;
            double ss = 0;
            for (int j = 0; j < n; j++) {
                float kk = z.k[ho + j] * w.kK[hh * n + j];
                z.negKk[ho + j] = kk;
                ss += (double) kk * kk;
            }
            float inv = (float) (1.0 / Math.max(Math.sqrt(ss), 1e-12));
            for (int j = 0; j < n; j++) z.negKk[ho + j] *= inv;
        }
        for (int i = 0; i < c; i++) {
            float kk = z.negKk[o + i], a = z.a[o + i];
            z.kkA[o + i] = kk * a;
            z.negKk[o + i] = -kk;
            z.k[o + i] *= 1 + (a - 1) * w.kA[i];
        }
    }

    private void channelMix(Rwkv7Projections p, Rwkv7Weights.Layer w, Rwkv7State state, int l, int t) {
        int c = cfg.dim();
        float[] prev = state.ffnXPrev[l];
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) layerNorm(z.x, row * c, c, w.ln2W, 0, w.ln2B, 0, LN_EPS, z.ln, row * c);
        });
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                float[] pv = row == 0 ? prev : z.ln;
                int o = row * c, po = row == 0 ? 0 : o - c;
                for (int i = 0; i < c; i++) z.xk[o + i] = z.ln[o + i] + (pv[po + i] - z.ln[o + i]) * w.ffnXK[i];
            }
        });
        System.arraycopy(z.ln, (t - 1) * c, prev, 0, c);
        p.channelMix(l, t, z);
        addResidual(t);
    }

    private void addResidual(int t) {
        int n = t * cfg.dim();
        for (int i = 0; i < n; i++) z.x[i] += z.dx[i];
    }

    @Override
    public void close() {
        single.close();
        if (batched != null) batched.close();
    }
}
