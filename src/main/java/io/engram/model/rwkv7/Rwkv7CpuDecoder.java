package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.layerNorm;
import static io.engram.model.ops.CpuKernels.matMul;
import static io.engram.model.ops.CpuKernels.sigmoid;
import static io.engram.model.ops.CpuKernels.vecMat;

import io.engram.model.ops.CpuKernels;

/**
 * One decode step for B sequences on host memory: the CPU fast path. The same equations as {@link TimeMix} and
 * {@link ChannelMix} (ChatRWKV's {@code RWKV_x070_TMix_one} / {@code CMix_one}), one token per sequence, with
 * every projection a {@code [B,C] x [C,C]} product ({@link CpuKernels#matMul}) that streams each weight row once
 * for the whole batch: decode is bound by memory bandwidth, so B sequences cost little more than one.
 */
final class Rwkv7CpuDecoder {

    private static final float NEG_EXP_HALF = (float) -Math.exp(-0.5);

    private final Rwkv7Weights wt;
    private final Rwkv7Config cfg;

    Rwkv7CpuDecoder(Rwkv7Weights weights) {
        this.wt = weights;
        this.cfg = weights.config;
    }

    /** Per-step activations, one row per sequence. */
    private static final class Batch {
        final int b;
        final float[][] x, xa, xr, xw, xk, xv, xaa, xg, r, k, v, w, a, g, kk, vFirst, y, negKk, kkA, tmp;
        final float[][] loraW, loraA, loraV, loraG, ffn;

        Batch(Rwkv7Config cfg, int b) {
            this.b = b;
            int c = cfg.dim();
            x = m(b, c); xa = m(b, c); xr = m(b, c); xw = m(b, c); xk = m(b, c); xv = m(b, c); xaa = m(b, c);
            xg = m(b, c); r = m(b, c); k = m(b, c); v = m(b, c); w = m(b, c); a = m(b, c); g = m(b, c);
            kk = m(b, c); vFirst = m(b, c); y = m(b, c); negKk = m(b, c); kkA = m(b, c); tmp = m(b, c);
            loraW = m(b, cfg.decayLora()); loraA = m(b, cfg.aLora()); loraV = m(b, Math.max(1, cfg.valueLora()));
            loraG = m(b, cfg.gateLora()); ffn = m(b, cfg.ffnDim());
        }

        private static float[][] m(int rows, int cols) {
            return new float[rows][cols];
        }
    }

    /** Reads {@code tokens[i]} into {@code states[i]}; returns each sequence's next-token logits (or null). */
    float[][] step(Rwkv7State[] states, int[] tokens, boolean wantLogits) {
        int c = cfg.dim();
        Batch s = new Batch(cfg, tokens.length);
        for (int i = 0; i < s.b; i++) {
            int token = tokens[i];
            if (token < 0 || token >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + token + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
            layerNorm(wt.emb, token * c, c, wt.ln0W, 0, wt.ln0B, 0, Rwkv7Config.LAYER_NORM_EPS, s.x[i], 0);
        }
        for (int l = 0; l < cfg.layers(); l++) {
            timeMix(wt.layers[l], states, l, s);
            channelMix(wt.layers[l], states, l, s);
        }
        for (Rwkv7State st : states) st.position++;
        if (!wantLogits) return null;
        for (int i = 0; i < s.b; i++) {
            layerNorm(s.x[i], 0, c, wt.lnOutW, 0, wt.lnOutB, 0, Rwkv7Config.LAYER_NORM_EPS, s.xa[i], 0);
        }
        float[][] logits = new float[s.b][cfg.vocab()];
        matMul(wt.head, cfg.vocab(), c, s.xa, logits);                     // [B,C] x [C,V]
        return logits;
    }

    private void timeMix(Rwkv7Weights.Layer p, Rwkv7State[] states, int l, Batch s) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        for (int i = 0; i < s.b; i++) {
            float[] prev = states[i].attXPrev[l], xa = s.xa[i];
            layerNorm(s.x[i], 0, c, p.ln1W, 0, p.ln1B, 0, Rwkv7Config.LAYER_NORM_EPS, xa, 0);
            for (int j = 0; j < c; j++) {
                float d = prev[j] - xa[j];                                 // lerp toward the previous token
                s.xr[i][j] = xa[j] + d * p.xR[j];
                s.xw[i][j] = xa[j] + d * p.xW[j];
                s.xk[i][j] = xa[j] + d * p.xK[j];
                s.xv[i][j] = xa[j] + d * p.xV[j];
                s.xaa[i][j] = xa[j] + d * p.xA[j];
                s.xg[i][j] = xa[j] + d * p.xG[j];
            }
        }
        matMul(p.wR, c, c, s.xr, s.r);                                      // [B,C]
        matMul(p.wK, c, c, s.xk, s.k);                                      // [B,C]
        matMul(p.wV, c, c, s.xv, s.v);                                      // [B,C]

        for (int i = 0; i < s.b; i++) {
            float[] w = s.w[i], a = s.a[i], g = s.g[i], k = s.k[i], v = s.v[i], kk = s.kk[i];
            vecMat(s.xw[i], p.w1, c, cfg.decayLora(), s.loraW[i]);          // w = exp(-e^-0.5 sigmoid(w0 + tanh(x_w w1) w2))
            for (int j = 0; j < s.loraW[i].length; j++) s.loraW[i][j] = (float) Math.tanh(s.loraW[i][j]);
            vecMat(s.loraW[i], p.w2, cfg.decayLora(), c, w);
            for (int j = 0; j < c; j++) w[j] = (float) Math.exp(NEG_EXP_HALF * sigmoid(p.w0[j] + w[j]));

            vecMat(s.xaa[i], p.a1, c, cfg.aLora(), s.loraA[i]);             // a = sigmoid(a0 + x_a a1 a2)
            vecMat(s.loraA[i], p.a2, cfg.aLora(), c, a);
            for (int j = 0; j < c; j++) a[j] = sigmoid(p.a0[j] + a[j]);

            vecMat(s.xg[i], p.g1, c, cfg.gateLora(), s.loraG[i]);           // g = sigmoid(x_g g1) g2
            for (int j = 0; j < s.loraG[i].length; j++) s.loraG[i][j] = sigmoid(s.loraG[i][j]);
            vecMat(s.loraG[i], p.g2, cfg.gateLora(), c, g);

            for (int hh = 0; hh < h; hh++) {                                // kk = per-head L2-normalise(k * k_k)
                double ss = 0;
                for (int j = hh * n; j < (hh + 1) * n; j++) {
                    kk[j] = k[j] * p.kK[j];
                    ss += (double) kk[j] * kk[j];
                }
                float inv = (float) (1.0 / Math.max(Math.sqrt(ss), 1e-12));
                for (int j = hh * n; j < (hh + 1) * n; j++) kk[j] *= inv;
            }
            for (int j = 0; j < c; j++) {
                k[j] = k[j] * (1 + (a[j] - 1) * p.kA[j]);
                s.negKk[i][j] = -kk[j];
                s.kkA[i][j] = kk[j] * a[j];
            }

            if (l == 0) {
                System.arraycopy(v, 0, s.vFirst[i], 0, c);
            } else {                                                        // v += (v_first - v) sigmoid(v0 + x_v v1 v2)
                vecMat(s.xv[i], p.v1, c, cfg.valueLora(), s.loraV[i]);
                vecMat(s.loraV[i], p.v2, cfg.valueLora(), c, s.tmp[i]);
                for (int j = 0; j < c; j++) v[j] += (s.vFirst[i][j] - v[j]) * sigmoid(p.v0[j] + s.tmp[i][j]);
            }

            float[] st = states[i].attKv[l], y = s.y[i], r = s.r[i];
            for (int hh = 0; hh < h; hh++) {
                WkvRecurrence.step(n, st, hh * n * n, r, w, k, v, s.negKk[i], s.kkA[i], hh * n, y);
                // GroupNorm over the head, then the "bonus" (r . k * r_k) v, then the gate
                layerNorm(y, hh * n, n, p.lnxW, hh * n, p.lnxB, hh * n, Rwkv7Config.GROUP_NORM_EPS, y, hh * n);
                float bonus = 0f;
                for (int j = hh * n; j < (hh + 1) * n; j++) bonus += r[j] * k[j] * p.rK[j];
                for (int j = hh * n; j < (hh + 1) * n; j++) y[j] = (y[j] + bonus * v[j]) * g[j];
            }
        }
        matMul(p.wO, c, c, s.y, s.tmp);                                     // [B,C]
        for (int i = 0; i < s.b; i++) {
            for (int j = 0; j < c; j++) s.x[i][j] += s.tmp[i][j];
            System.arraycopy(s.xa[i], 0, states[i].attXPrev[l], 0, c);
        }
    }

    private void channelMix(Rwkv7Weights.Layer p, Rwkv7State[] states, int l, Batch s) {
        int c = cfg.dim();
        for (int i = 0; i < s.b; i++) {
            float[] prev = states[i].ffnXPrev[l], xf = s.xa[i];
            layerNorm(s.x[i], 0, c, p.ln2W, 0, p.ln2B, 0, Rwkv7Config.LAYER_NORM_EPS, xf, 0);
            for (int j = 0; j < c; j++) s.xk[i][j] = xf[j] + (prev[j] - xf[j]) * p.ffnXK[j];
        }
        matMul(p.ffnKey, cfg.ffnDim(), c, s.xk, s.ffn);                     // [B,F]
        for (float[] row : s.ffn) {
            for (int j = 0; j < row.length; j++) {
                float z = Math.max(row[j], 0f);
                row[j] = z * z;                                             // relu(.)^2
            }
        }
        matMul(p.ffnValue, c, cfg.ffnDim(), s.ffn, s.tmp);                  // [B,C]
        for (int i = 0; i < s.b; i++) {
            for (int j = 0; j < c; j++) s.x[i][j] += s.tmp[i][j];
            System.arraycopy(s.xa[i], 0, states[i].ffnXPrev[l], 0, c);
        }
    }
}
