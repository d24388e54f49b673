package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.matVecs;
import static io.engram.model.ops.CpuKernels.vecMatColumns;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuKernels.MatVec;
import io.engram.model.ops.CpuTeam;

/**
 * {@link Rwkv7Projections} on host memory for a few rows (decode: one token, or one token of each of a few
 * sequences). Every weight is read once per step whatever the number of rows, so this is a memory-bandwidth
 * problem; products that share an input stage run as one parallel pass of the {@link CpuTeam}
 * ({@link CpuKernels#matVecs}). The LoRA down-projections are kept transposed ({@code [D,C]}) so that they join
 * that pass as ordinary rows.
 */
final class HostProjections implements Rwkv7Projections {

    private final Rwkv7Config cfg;
    private final Rwkv7Weights.Layer[] layers;
    private final float[][] w1T, a1T, v1T, g1T;
    /** {@code [rows, D]} LoRA hiddens and the {@code [rows, F]} channel-mix hidden. */
    private final float[] loraW, loraA, loraV, loraG, hidden;
    private final int maxRows;

    HostProjections(Rwkv7Weights weights, int maxRows) {
        cfg = weights.config;
        layers = weights.layers;
        this.maxRows = maxRows;
        int n = cfg.layers(), c = cfg.dim();
        w1T = new float[n][]; a1T = new float[n][]; v1T = new float[n][]; g1T = new float[n][];
        for (int l = 0; l < n; l++) {
            Rwkv7Weights.Layer p = layers[l];
            w1T[l] = transpose(p.w1, c, cfg.decayLora());
            a1T[l] = transpose(p.a1, c, cfg.aLora());
            v1T[l] = p.v1 == null ? null : transpose(p.v1, c, cfg.valueLora());
            g1T[l] = transpose(p.g1, c, cfg.gateLora());
        }
        loraW = new float[maxRows * cfg.decayLora()];
        loraA = new float[maxRows * cfg.aLora()];
        loraV = new float[maxRows * Math.max(1, cfg.valueLora())];
        loraG = new float[maxRows * cfg.gateLora()];
        hidden = new float[maxRows * cfg.ffnDim()];
    }

    int maxRows() {
        return maxRows;
    }

    @Override
    public void timeMixIn(int l, int t, Rwkv7Activations z) {
        Rwkv7Weights.Layer p = layers[l];
        int c = cfg.dim(), dw = cfg.decayLora(), da = cfg.aLora(), dv = cfg.valueLora(), dg = cfg.gateLora();
        boolean valueLora = l > 0;
        MatVec r = new MatVec(p.wR, c, c, z.xr, 0, z.r, 0, t);
        MatVec k = new MatVec(p.wK, c, c, z.xk, 0, z.k, 0, t);
        MatVec v = new MatVec(p.wV, c, c, z.xv, 0, z.v, 0, t);
        MatVec downW = new MatVec(w1T[l], dw, c, z.xw, 0, loraW, 0, t);
        MatVec downA = new MatVec(a1T[l], da, c, z.xa, 0, loraA, 0, t);
        MatVec downG = new MatVec(g1T[l], dg, c, z.xg, 0, loraG, 0, t);
        if (valueLora) {
            matVecs(r, k, v, downW, downA, downG, new MatVec(v1T[l], dv, c, z.xv, 0, loraV, 0, t));
        } else {
            matVecs(r, k, v, downW, downA, downG);
        }
        CpuKernels.tanh(loraW, 0, t * dw);
        CpuKernels.sigmoid(loraG, 0, t * dg);
        CpuTeam.forRange(c, 128, (from, to) -> {              // the up-projections, split by output column
            for (int row = 0; row < t; row++) {
                vecMatColumns(loraW, row * dw, p.w2, dw, c, z.w, row * c, from, to);
                vecMatColumns(loraA, row * da, p.a2, da, c, z.a, row * c, from, to);
                vecMatColumns(loraG, row * dg, p.g2, dg, c, z.g, row * c, from, to);
                if (valueLora) vecMatColumns(loraV, row * dv, p.v2, dv, c, z.vMix, row * c, from, to);
            }
        });
    }

    @Override
    public void timeMixOut(int l, int t, Rwkv7Activations z) {
        int c = cfg.dim();
        matVecs(new MatVec(layers[l].wO, c, c, z.y, 0, z.dx, 0, t));
    }

    @Override
    public void channelMix(int l, int t, Rwkv7Activations z) {
        Rwkv7Weights.Layer p = layers[l];
        int c = cfg.dim(), f = cfg.ffnDim();
        matVecs(new MatVec(p.ffnKey, f, c, z.xk, 0, hidden, 0, t));
        for (int i = 0; i < t * f; i++) {
            float h = Math.max(hidden[i], 0f);
            hidden[i] = h * h;                                 // relu(.)^2
        }
        matVecs(new MatVec(p.ffnValue, c, f, hidden, 0, z.dx, 0, t));
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
