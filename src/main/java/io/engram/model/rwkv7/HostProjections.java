package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.vecMatRowsColumns;
import static io.engram.model.ops.ServedKernels.matVecs;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuTeam;
import io.engram.model.ops.ServedKernels.Job;
import io.engram.model.ops.ServedMatrix;
import io.engram.weights.ServeDtype;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link Rwkv7Projections} on host memory for a few rows (decode: one token, or one token of each of a few
 * sequences). Every weight is read once per step whatever the number of rows, so this is a memory-bandwidth
 * problem; products that share an input stage run as one parallel pass of the {@link CpuTeam}
 * ({@link CpuKernels#matVecs}). The LoRA down-projections are kept transposed ({@code [D,C]}) so that they join
 * that pass as ordinary rows.
 *
 * <p>The large matrices (r, k, v, output, both channel-mix matrices and the head) are held in the served format
 * ({@link ServeDtype}: float32, bfloat16 or int8, see {@link ServedMatrix}), and so are the LoRA matrices whose
 * input is a whole number of int8 groups (64 wide or more): in the 0.1B shape they are 21 MB per token in float32,
 * 13% of what an int8 step reads otherwise. A served LoRA up-projection is held transposed ({@code [C,D]}) and runs
 * as rows of one parallel pass; a float32 one (every LoRA of a float32 model, and the 32-wide value LoRA) by the
 * outer-product kernel {@link CpuKernels#vecMatRowsColumns}. The embedding and every vector stay float32.
 */
final class HostProjections implements Rwkv7Projections {

    /** The four LoRAs, by index into {@link #down} and {@link #up}: decay, in-context rate, value residual, gate. */
    static final int LORA_W = 0, LORA_A = 1, LORA_V = 2, LORA_G = 3;

    private final Rwkv7Config cfg;
    private final Rwkv7Weights.Layer[] layers;
    private final ServeDtype dtype;
    /** {@code [lora][layer]}: the down-projections transposed ({@code [D,C]}); null for the value LoRA of layer 0. */
    private final ServedMatrix[][] down = new ServedMatrix[4][];
    /** {@code [lora][layer]}: the up-projections transposed ({@code [C,D]}) where served; null where float32. */
    private final ServedMatrix[][] up = new ServedMatrix[4][];
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
        for (int i = 0; i < 4; i++) {
            down[i] = new ServedMatrix[n];
            up[i] = new ServedMatrix[n];
        }
        wR = new ServedMatrix[n]; wK = new ServedMatrix[n]; wV = new ServedMatrix[n]; wO = new ServedMatrix[n];
        ffnKey = new ServedMatrix[n]; ffnValue = new ServedMatrix[n];
        for (int l = 0; l < n; l++) {
            Rwkv7Weights.Layer p = layers[l];
            for (int i = 0; i < 4; i++) if (i != LORA_V || p.v1 != null) lora(i, l);
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

    /** LoRA {@code i} of layer {@code l}: {@code x @ m1 @ m2} with {@code m1 [C,D]}, {@code m2 [D,C]}. */
    private void lora(int i, int l) {
        int c = cfg.dim(), d = loraWidth(i);
        down[i][l] = ServedMatrix.of(transpose(checkpointLora(i, l, true), c, d), d, c, dtype);      // [D,C]: in = C
        if (dtype != ServeDtype.FLOAT32 && d % ServeDtype.INT8_GROUP == 0) {
            up[i][l] = ServedMatrix.of(transpose(checkpointLora(i, l, false), d, c), c, d, dtype);   // [C,D]: in = D
        }
    }

    /**
     * LoRA {@code i}'s down-projection ({@code m1 [C,D]}) of layer {@code l} in the checkpoint's layout, with the
     * values the decode kernels multiply by (a served format's, widened): what libtorch's priming chunks use, so
     * that priming and decode compute with the same weights. Null for the value LoRA of layer 0.
     */
    float[] loraDown(int i, int l) {
        ServedMatrix m = down[i][l];
        if (m == null || m.dtype == ServeDtype.FLOAT32) return checkpointLora(i, l, true);
        return transpose(m.dequantize(), m.out, m.in);
    }

    /** As {@link #loraDown}, for the up-projection ({@code m2 [D,C]}). */
    float[] loraUp(int i, int l) {
        ServedMatrix m = up[i][l];
        return m == null ? checkpointLora(i, l, false) : transpose(m.dequantize(), m.out, m.in);
    }

    /** The checkpoint's float32 {@code m1} (down) or {@code m2} (up) of LoRA {@code i}, layer {@code l}. */
    private float[] checkpointLora(int i, int l, boolean downProjection) {
        Rwkv7Weights.Layer p = layers[l];
        return switch (i) {
            case LORA_W -> downProjection ? p.w1 : p.w2;
            case LORA_A -> downProjection ? p.a1 : p.a2;
            case LORA_V -> downProjection ? p.v1 : p.v2;
            default -> downProjection ? p.g1 : p.g2;
        };
    }

    /** LoRA {@code i}'s width D. */
    private int loraWidth(int i) {
        return switch (i) {
            case LORA_W -> cfg.decayLora();
            case LORA_A -> cfg.aLora();
            case LORA_V -> cfg.valueLora();
            default -> cfg.gateLora();
        };
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
        int c = cfg.dim(), dw = cfg.decayLora(), dg = cfg.gateLora();
        boolean valueLora = l > 0;
        Job r = new Job(wR[l], z.xr, 0, z.r, 0, t);
        Job k = new Job(wK[l], z.xk, 0, z.k, 0, t);
        Job v = new Job(wV[l], z.xv, 0, z.v, 0, t);
        Job downW = new Job(down[LORA_W][l], z.xw, 0, loraW, 0, t);
        Job downA = new Job(down[LORA_A][l], z.xa, 0, loraA, 0, t);
        Job downG = new Job(down[LORA_G][l], z.xg, 0, loraG, 0, t);
        if (valueLora) {
            matVecs(r, k, v, downW, downA, downG, new Job(down[LORA_V][l], z.xv, 0, loraV, 0, t));
        } else {
            matVecs(r, k, v, downW, downA, downG);
        }
        CpuKernels.tanh(loraW, 0, t * dw);
        CpuKernels.sigmoid(loraG, 0, t * dg);
        // the up-projections: served ones as rows of one pass, float32 ones split by output column
        float[][] in = {loraW, loraA, loraV, loraG}, out = {z.w, z.a, z.vMix, z.g};   // by LORA_* index
        List<Job> served = new ArrayList<>(4);
        List<Integer> plain = new ArrayList<>(4);
        for (int i = 0; i < 4; i++) {
            if (i == LORA_V && !valueLora) continue;
            if (up[i][l] != null) served.add(new Job(up[i][l], in[i], 0, out[i], 0, t));
            else plain.add(i);
        }
        if (!served.isEmpty()) matVecs(served.toArray(Job[]::new));
        if (plain.isEmpty()) return;
        CpuTeam.forRange(c, 128, (from, to) -> {
            for (int i : plain) vecMatRowsColumns(in[i], 0, t, checkpointLora(i, l, false), loraWidth(i), c, out[i], 0, from, to);
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
