package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.matVecs;
import static io.engram.model.ops.CpuKernels.vecMatColumns;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuKernels.MatVec;
import io.engram.model.ops.CpuTeam;

/**
 * {@link Rwkv7Projections} on host memory, one token at a time: the decode path. Every weight is read once per
 * token, so this is a memory-bandwidth problem; products that share an input stage run as one parallel pass of the
 * {@link CpuTeam} ({@link CpuKernels#matVecs}). The LoRA down-projections are kept transposed ({@code [D,C]}) so
 * that they join that pass as ordinary rows.
 */
final class HostProjections implements Rwkv7Projections {

    private final Rwkv7Config cfg;
    private final Rwkv7Weights.Layer[] layers;
    private final float[][] w1T, a1T, v1T, g1T;
    private final float[] loraW, loraA, loraV, loraG, hidden;

    HostProjections(Rwkv7Weights weights) {
        cfg = weights.config;
        layers = weights.layers;
        int n = cfg.layers(), c = cfg.dim();
        w1T = new float[n][]; a1T = new float[n][]; v1T = new float[n][]; g1T = new float[n][];
        for (int l = 0; l < n; l++) {
            Rwkv7Weights.Layer p = layers[l];
            w1T[l] = transpose(p.w1, c, cfg.decayLora());
            a1T[l] = transpose(p.a1, c, cfg.aLora());
            v1T[l] = p.v1 == null ? null : transpose(p.v1, c, cfg.valueLora());
            g1T[l] = transpose(p.g1, c, cfg.gateLora());
        }
        loraW = new float[cfg.decayLora()]; loraA = new float[cfg.aLora()];
        loraV = new float[Math.max(1, cfg.valueLora())]; loraG = new float[cfg.gateLora()];
        hidden = new float[cfg.ffnDim()];
    }

    @Override
    public void timeMixIn(int l, int t, Rwkv7Activations z) {
        Rwkv7Weights.Layer p = layers[l];
        int c = cfg.dim();
        boolean valueLora = l > 0;
        for (int row = 0, o = 0; row < t; row++, o += c) {
            MatVec r = new MatVec(p.wR, c, c, z.xr, o, z.r, o);
            MatVec k = new MatVec(p.wK, c, c, z.xk, o, z.k, o);
            MatVec v = new MatVec(p.wV, c, c, z.xv, o, z.v, o);
            MatVec downW = new MatVec(w1T[l], cfg.decayLora(), c, z.xw, o, loraW, 0);
            MatVec downA = new MatVec(a1T[l], cfg.aLora(), c, z.xa, o, loraA, 0);
            MatVec downG = new MatVec(g1T[l], cfg.gateLora(), c, z.xg, o, loraG, 0);
            if (valueLora) {
                matVecs(r, k, v, downW, downA, downG, new MatVec(v1T[l], cfg.valueLora(), c, z.xv, o, loraV, 0));
            } else {
                matVecs(r, k, v, downW, downA, downG);
            }
            CpuKernels.tanh(loraW, 0, loraW.length);
            CpuKernels.sigmoid(loraG, 0, loraG.length);
            int out = o;
            CpuTeam.forRange(c, 128, (from, to) -> {          // the up-projections, split by output column
                vecMatColumns(loraW, 0, p.w2, cfg.decayLora(), c, z.w, out, from, to);
                vecMatColumns(loraA, 0, p.a2, cfg.aLora(), c, z.a, out, from, to);
                vecMatColumns(loraG, 0, p.g2, cfg.gateLora(), c, z.g, out, from, to);
                if (valueLora) vecMatColumns(loraV, 0, p.v2, cfg.valueLora(), c, z.vMix, out, from, to);
            });
        }
    }

    @Override
    public void timeMixOut(int l, int t, Rwkv7Activations z) {
        int c = cfg.dim();
        for (int o = 0; o < t * c; o += c) matVecs(new MatVec(layers[l].wO, c, c, z.y, o, z.dx, o));
    }

    @Override
    public void channelMix(int l, int t, Rwkv7Activations z) {
        Rwkv7Weights.Layer p = layers[l];
        int c = cfg.dim(), f = cfg.ffnDim();
        for (int o = 0; o < t * c; o += c) {
            matVecs(new MatVec(p.ffnKey, f, c, z.xk, o, hidden, 0));
            for (int i = 0; i < f; i++) {
                float h = Math.max(hidden[i], 0f);
                hidden[i] = h * h;
            }
            matVecs(new MatVec(p.ffnValue, c, f, hidden, 0, z.dx, o));
        }
    }

    /** {@code [rows, cols]} to {@code [cols, rows]}. */
    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
        }
        return t;
    }
}
