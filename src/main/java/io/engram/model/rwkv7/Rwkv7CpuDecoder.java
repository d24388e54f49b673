package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.layerNorm;
import static io.engram.model.ops.CpuKernels.matVec;
import static io.engram.model.ops.CpuKernels.sigmoid;
import static io.engram.model.ops.CpuKernels.vecMat;

import io.engram.model.ops.CpuKernels;

/**
 * Single-token RWKV-7 step on host memory: the CPU fast path for decode. The same equations as {@link TimeMix}
 * and {@link ChannelMix} (ChatRWKV's {@code RWKV_x070_TMix_one} / {@code CMix_one}), one token at a time, with
 * the products streamed by {@link CpuKernels}. Holds scratch buffers, so like the model it is not thread-safe.
 */
final class Rwkv7CpuDecoder {

    private static final float NEG_EXP_HALF = (float) -Math.exp(-0.5);

    private final Rwkv7Weights wt;
    private final Rwkv7Config cfg;
    private final float[] x, xa, xr, xw, xk, xv, xaa, xg, r, k, v, w, a, g, kk, vFirst, y, negKk, kkA, tmp;
    private final float[] loraW, loraA, loraV, loraG, ffnHidden, lnOut;

    Rwkv7CpuDecoder(Rwkv7Weights weights) {
        this.wt = weights;
        this.cfg = weights.config;
        int c = cfg.dim();
        x = new float[c]; xa = new float[c]; xr = new float[c]; xw = new float[c]; xk = new float[c];
        xv = new float[c]; xaa = new float[c]; xg = new float[c]; r = new float[c]; k = new float[c];
        v = new float[c]; w = new float[c]; a = new float[c]; g = new float[c]; kk = new float[c];
        vFirst = new float[c]; y = new float[c]; negKk = new float[c]; kkA = new float[c]; tmp = new float[c];
        loraW = new float[cfg.decayLora()]; loraA = new float[cfg.aLora()];
        loraV = new float[Math.max(1, cfg.valueLora())]; loraG = new float[cfg.gateLora()];
        ffnHidden = new float[cfg.ffnDim()];
        lnOut = new float[c];
    }

    float[] step(Rwkv7State state, int token, boolean wantLogits) {
        int c = cfg.dim();
        if (token < 0 || token >= cfg.vocab()) {
            throw new IllegalArgumentException("token id " + token + " outside the vocabulary [0, " + cfg.vocab() + ")");
        }
        layerNorm(wt.emb, token * c, c, wt.ln0W, 0, wt.ln0B, 0, Rwkv7Config.LAYER_NORM_EPS, x, 0);
        for (int l = 0; l < cfg.layers(); l++) {
            timeMix(wt.layers[l], state, l);
            channelMix(wt.layers[l], state, l);
        }
        state.position++;
        if (!wantLogits) return null;
        layerNorm(x, 0, c, wt.lnOutW, 0, wt.lnOutB, 0, Rwkv7Config.LAYER_NORM_EPS, lnOut, 0);
        float[] logits = new float[cfg.vocab()];
        matVec(wt.head, cfg.vocab(), c, lnOut, logits);
        return logits;
    }

    private void timeMix(Rwkv7Weights.Layer p, Rwkv7State state, int l) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        float[] prev = state.attXPrev[l];
        layerNorm(x, 0, c, p.ln1W, 0, p.ln1B, 0, Rwkv7Config.LAYER_NORM_EPS, xa, 0);
        for (int i = 0; i < c; i++) {
            float d = prev[i] - xa[i];                       // lerp toward the previous token
            xr[i] = xa[i] + d * p.xR[i];
            xw[i] = xa[i] + d * p.xW[i];
            xk[i] = xa[i] + d * p.xK[i];
            xv[i] = xa[i] + d * p.xV[i];
            xaa[i] = xa[i] + d * p.xA[i];
            xg[i] = xa[i] + d * p.xG[i];
        }
        matVec(p.wR, c, c, xr, r);
        matVec(p.wK, c, c, xk, k);
        matVec(p.wV, c, c, xv, v);

        vecMat(xw, p.w1, c, cfg.decayLora(), loraW);         // tanh(x_w @ w1) @ w2
        for (int i = 0; i < loraW.length; i++) loraW[i] = (float) Math.tanh(loraW[i]);
        vecMat(loraW, p.w2, cfg.decayLora(), c, w);
        for (int i = 0; i < c; i++) w[i] = (float) Math.exp(NEG_EXP_HALF * sigmoid(p.w0[i] + w[i]));

        vecMat(xaa, p.a1, c, cfg.aLora(), loraA);            // a = sigmoid(a0 + x_a @ a1 @ a2)
        vecMat(loraA, p.a2, cfg.aLora(), c, a);
        for (int i = 0; i < c; i++) a[i] = sigmoid(p.a0[i] + a[i]);

        vecMat(xg, p.g1, c, cfg.gateLora(), loraG);          // g = sigmoid(x_g @ g1) @ g2
        for (int i = 0; i < loraG.length; i++) loraG[i] = sigmoid(loraG[i]);
        vecMat(loraG, p.g2, cfg.gateLora(), c, g);

        for (int hh = 0; hh < h; hh++) {                     // kk = per-head L2-normalise(k * k_k)
            double ss = 0;
            for (int j = hh * n; j < (hh + 1) * n; j++) {
                kk[j] = k[j] * p.kK[j];
                ss += (double) kk[j] * kk[j];
            }
            float inv = (float) (1.0 / Math.max(Math.sqrt(ss), 1e-12));
            for (int j = hh * n; j < (hh + 1) * n; j++) kk[j] *= inv;
        }
        for (int i = 0; i < c; i++) {
            k[i] = k[i] * (1 + (a[i] - 1) * p.kA[i]);
            negKk[i] = -kk[i];
            kkA[i] = kk[i] * a[i];
        }

        if (l == 0) {
            System.arraycopy(v, 0, vFirst, 0, c);
        } else {                                             // v += (v_first - v) * sigmoid(v0 + x_v @ v1 @ v2)
            vecMat(xv, p.v1, c, cfg.valueLora(), loraV);
            vecMat(loraV, p.v2, cfg.valueLora(), c, tmp);
            for (int i = 0; i < c; i++) v[i] += (vFirst[i] - v[i]) * sigmoid(p.v0[i] + tmp[i]);
        }

        float[] s = state.attKv[l];
        for (int hh = 0; hh < h; hh++) {
            WkvRecurrence.step(n, s, hh * n * n, r, w, k, v, negKk, kkA, hh * n, y);
            // GroupNorm over the head, then the "bonus" (r . k * r_k) v
            layerNorm(y, hh * n, n, p.lnxW, hh * n, p.lnxB, hh * n, Rwkv7Config.GROUP_NORM_EPS, y, hh * n);
            float bonus = 0f;
            for (int j = hh * n; j < (hh + 1) * n; j++) bonus += r[j] * k[j] * p.rK[j];
            for (int j = hh * n; j < (hh + 1) * n; j++) y[j] = (y[j] + bonus * v[j]) * g[j];
        }
        matVec(p.wO, c, c, y, tmp);
        for (int i = 0; i < c; i++) x[i] += tmp[i];
        System.arraycopy(xa, 0, prev, 0, c);
    }

    private void channelMix(Rwkv7Weights.Layer p, Rwkv7State state, int l) {
        int c = cfg.dim();
        float[] prev = state.ffnXPrev[l];
        layerNorm(x, 0, c, p.ln2W, 0, p.ln2B, 0, Rwkv7Config.LAYER_NORM_EPS, xa, 0);
        for (int i = 0; i < c; i++) xk[i] = xa[i] + (prev[i] - xa[i]) * p.ffnXK[i];
        matVec(p.ffnKey, cfg.ffnDim(), c, xk, ffnHidden);
        for (int i = 0; i < ffnHidden.length; i++) {
            float z = Math.max(ffnHidden[i], 0f);
            ffnHidden[i] = z * z;
        }
        matVec(p.ffnValue, c, cfg.ffnDim(), ffnHidden, tmp);
        for (int i = 0; i < c; i++) x[i] += tmp[i];
        System.arraycopy(xa, 0, prev, 0, c);
    }
}
