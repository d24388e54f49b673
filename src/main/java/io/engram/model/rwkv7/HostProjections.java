package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.vecMatRowsColumns;
import static io.engram.model.ops.ServedKernels.matVecs;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuTeam;
import io.engram.model.ops.ServedKernels.Job;
import io.engram.model.ops.ServedMatrix;
import io.engram.weights.ServeDtype;

/**
 * {@link Rwkv7Projections} on host memory for a few rows (decode: one token, or one token of each of a few
 * sequences). Every weight is read once per step whatever the number of rows, so this is a memory-bandwidth
 * problem; products that share an input stage run as one parallel pass of the {@link CpuTeam}
 * ({@link CpuKernels#matVecs}). The LoRA down-projections are kept transposed ({@code [D,C]}) so that they join
 * that pass as ordinary rows.
 *
 * <p>The large matrices (r, k, v, output, both channel-mix matrices and the head) are held in the served format
 * ({@link ServeDtype}: float32, bfloat16 or int8, see {@link ServedMatrix}); the small LoRA matrices, the
 * embedding and every vector stay float32.
 */
final class HostProjections implements Rwkv7Projections {

    private final Rwkv7Config cfg;
    private final Rwkv7Weights.Layer[] layers;
    private final ServeDtype dtype;
    private final ServedMatrix[] w1T, a1T, v1T, g1T;
    /** The large matrices of each layer in the served format. */
    private final ServedMatrix[] wR, wK, wV, wO, ffnKey, ffnValue;
    private final ServedMatrix head;
    /** {@code [rows, D]} LoRA hiddens and the {@code [rows, F]} channel-mix hidden. */
    private final float[] loraW, loraA, loraV, loraG, hidden;
    private final int maxRows;

    HostProjections(Rwkv7Weights weights, int maxRows) {
        this(weights, maxRows, ServeDtype.FLOAT32, null);
    }

    /**
     * @param memory where the large matrices live: null for Java arrays, else off the heap (see
     *               {@link ServedMatrix}); each is converted from the checkpoint's tensor one row at a time
     */
    HostProjections(Rwkv7Weights weights, int maxRows, ServeDtype dtype, ServedMatrix.NativeMemory memory) {
        cfg = weights.config;
        layers = weights.layers;
        this.maxRows = maxRows;
        this.dtype = dtype;
        int n = cfg.layers(), c = cfg.dim(), f = cfg.ffnDim();
        w1T = new ServedMatrix[n]; a1T = new ServedMatrix[n]; v1T = new ServedMatrix[n]; g1T = new ServedMatrix[n];
        wR = new ServedMatrix[n]; wK = new ServedMatrix[n]; wV = new ServedMatrix[n]; wO = new ServedMatrix[n];
        ffnKey = new ServedMatrix[n]; ffnValue = new ServedMatrix[n];
        for (int l = 0; l < n; l++) {
            Rwkv7Weights.Layer p = layers[l];
            w1T[l] = ServedMatrix.float32(transpose(p.w1, c, cfg.decayLora()), cfg.decayLora(), c);
            a1T[l] = ServedMatrix.float32(transpose(p.a1, c, cfg.aLora()), cfg.aLora(), c);
            v1T[l] = p.v1 == null ? null : ServedMatrix.float32(transpose(p.v1, c, cfg.valueLora()), cfg.valueLora(), c);
            g1T[l] = ServedMatrix.float32(transpose(p.g1, c, cfg.gateLora()), cfg.gateLora(), c);
            wR[l] = ServedMatrix.build(Rwkv7Weights.rows(p.wR), c, c, dtype, memory);
            wK[l] = ServedMatrix.build(Rwkv7Weights.rows(p.wK), c, c, dtype, memory);
            wV[l] = ServedMatrix.build(Rwkv7Weights.rows(p.wV), c, c, dtype, memory);
            wO[l] = ServedMatrix.build(Rwkv7Weights.rows(p.wO), c, c, dtype, memory);
            ffnKey[l] = ServedMatrix.build(Rwkv7Weights.rows(p.ffnKey), f, c, dtype, memory);
            ffnValue[l] = ServedMatrix.build(Rwkv7Weights.rows(p.ffnValue), c, f, dtype, memory);
        }
        head = ServedMatrix.build(Rwkv7Weights.rows(weights.head), cfg.vocab(), c, dtype, memory);
        loraW = new float[maxRows * cfg.decayLora()];
        loraA = new float[maxRows * cfg.aLora()];
        loraV = new float[maxRows * Math.max(1, cfg.valueLora())];
        loraG = new float[maxRows * cfg.gateLora()];
        hidden = new float[maxRows * cfg.ffnDim()];
    }

    int maxRows() {
        return maxRows;
    }

    ServeDtype dtype() {
        return dtype;
    }

    /** {@code head.weight [V,C]} in the served format. */
    ServedMatrix head() {
        return head;
    }

    /** Layer {@code l}'s large matrices in the served format: r, k, v, output, ffn key, ffn value. */
    ServedMatrix[] large(int l) {
        return new ServedMatrix[] {wR[l], wK[l], wV[l], wO[l], ffnKey[l], ffnValue[l]};
    }

    @Override
    public void timeMixIn(int l, int t, Rwkv7Activations z) {
        Rwkv7Weights.Layer p = layers[l];
        int c = cfg.dim(), dw = cfg.decayLora(), da = cfg.aLora(), dv = cfg.valueLora(), dg = cfg.gateLora();
        boolean valueLora = l > 0;
        Job r = new Job(wR[l], z.xr, 0, z.r, 0, t);
        Job k = new Job(wK[l], z.xk, 0, z.k, 0, t);
        Job v = new Job(wV[l], z.xv, 0, z.v, 0, t);
        Job downW = new Job(w1T[l], z.xw, 0, loraW, 0, t);
        Job downA = new Job(a1T[l], z.xa, 0, loraA, 0, t);
        Job downG = new Job(g1T[l], z.xg, 0, loraG, 0, t);
        if (valueLora) {
            matVecs(r, k, v, downW, downA, downG, new Job(v1T[l], z.xv, 0, loraV, 0, t));
        } else {
            matVecs(r, k, v, downW, downA, downG);
        }
        CpuKernels.tanh(loraW, 0, t * dw);
        CpuKernels.sigmoid(loraG, 0, t * dg);
        CpuTeam.forRange(c, 128, (from, to) -> {              // the up-projections, split by output column
            vecMatRowsColumns(loraW, 0, t, p.w2, dw, c, z.w, 0, from, to);
            vecMatRowsColumns(loraA, 0, t, p.a2, da, c, z.a, 0, from, to);
            vecMatRowsColumns(loraG, 0, t, p.g2, dg, c, z.g, 0, from, to);
            if (valueLora) vecMatRowsColumns(loraV, 0, t, p.v2, dv, c, z.vMix, 0, from, to);
        });
    }

    @Override
    public void timeMixOut(int l, int t, Rwkv7Activations z) {
        matVecs(new Job(wO[l], z.y, 0, z.dx, 0, t));
    }

    @Override
    public void channelMix(int l, int t, Rwkv7Activations z) {
        int f = cfg.ffnDim();
        matVecs(new Job(ffnKey[l], z.xk, 0, hidden, 0, t));
        for (int i = 0; i < t * f; i++) {
            float h = Math.max(hidden[i], 0f);
            hidden[i] = h * h;                                 // relu(.)^2
        }
        matVecs(new Job(ffnValue[l], hidden, 0, z.dx, 0, t));
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
