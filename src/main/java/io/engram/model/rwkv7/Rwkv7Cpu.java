package io.engram.model.rwkv7;

import static io.engram.model.ops.CpuKernels.layerNorm;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuTeam;

/**
 * RWKV-7 on host memory: the CPU path. It runs {@code t} rows at once: the consecutive tokens of one sequence
 * (priming a chunk, or decoding one token) or one token of each of {@code t} sequences (batched decode). The
 * equations are those of {@link Rwkv7Device} (ChatRWKV's {@code RWKV_x070_TMix_seq} /
 * {@code CMix_seq}), written once, row by row, in Java. The token-wise products go to a {@link Rwkv7Projections}:
 * Java kernels for a few rows ({@link HostProjections}, bandwidth-bound), and for a chunk either the same
 * kernels (on AVX-512, where their wide register tile is the faster: {@link Rwkv7Model#javaChunks}) or batched
 * DJL products ({@link DjlProjections}, compute-bound). Everything elementwise, and the WKV recurrence, runs here, split
 * across the {@link CpuTeam} by rows or by (sequence, head).
 *
 * <p>Holds scratch buffers, so like the model it is not thread-safe.
 */
final class Rwkv7Cpu implements AutoCloseable {

    private static final float NEG_EXP_HALF = (float) -Math.exp(-0.5);
    private static final float LN_EPS = Rwkv7Config.LAYER_NORM_EPS;
    /** Rows (tokens) per block when elementwise work is split across threads. */
    private static final int ROW_GRAIN = 4;

    private final Rwkv7Weights wt;
    private final Rwkv7Config cfg;
    private final HostProjections host;
    private final Rwkv7Projections batched;
    private final Rwkv7Activations z;
    private final float[] lnOut;
    /**
     * The head's output for several rows ({@code [n, V]}), reused from step to step: allocated per step it was
     * 4 MB for 16 rows, a humongous object for G1 (over half a region) that started a collection cycle every few
     * seconds under batched decode; each row is copied out into an array of its own, which its sequence keeps.
     */
    private float[] headOut = new float[0];
    /** {@code emb.weight [V,C]} (float32, or bfloat16 when that is the served format) and one row of it. */
    private final io.engram.model.ops.ServedMatrix emb;
    private final float[] embRow;
    /** The sequence (index into this pass's states) each row belongs to. */
    private final int[] rowSeq;

    /**
     * @param host    products for up to {@link HostProjections#maxRows()} rows: they read each weight once for
     *                all rows, which beats a DJL product while the product is memory-bound
     * @param batched products for more rows (a chunk of a document), or null to use {@code host} row group by
     *                row group
     * @param maxRows the most rows (tokens of one chunk, or sequences of one step) processed at once
     */
    Rwkv7Cpu(Rwkv7Weights weights, io.engram.model.ops.ServedMatrix emb, HostProjections host,
             Rwkv7Projections batched, int maxRows) {
        this.wt = weights;
        this.emb = emb;
        this.embRow = new float[weights.config.dim()];
        this.cfg = weights.config;
        this.host = host;
        this.batched = batched;
        this.z = new Rwkv7Activations(cfg, batched == null ? Math.min(maxRows, host.maxRows()) : maxRows);
        this.lnOut = new float[z.rows * cfg.dim()];
        this.rowSeq = new int[z.rows];
    }

    /** The most tokens one {@link #forward} call takes. */
    int maxRows() {
        return z.rows;
    }

    /** Reads {@code tokens[from, to)} (at most {@link #maxRows()}) into {@code state}; logits after the last one if asked. */
    float[] forward(Rwkv7State state, int[] tokens, int from, int to, boolean wantLogits) {
        return mixed(new Rwkv7State[] {state}, java.util.Arrays.copyOfRange(tokens, from, to), new int[] {to - from},
                new boolean[] {wantLogits})[0];
    }

    /** One decode step for several sequences: {@code tokens[i]} into {@code states[i]}; each one's logits. */
    float[][] step(Rwkv7State[] states, int[] tokens) {
        float[][] out = new float[tokens.length][];
        for (int from = 0; from < tokens.length; from += z.rows) {
            int t = Math.min(z.rows, tokens.length - from);
            int[] ones = new int[t];
            boolean[] all = new boolean[t];
            java.util.Arrays.fill(ones, 1);
            java.util.Arrays.fill(all, true);
            float[][] logits = mixed(java.util.Arrays.copyOfRange(states, from, from + t),
                    java.util.Arrays.copyOfRange(tokens, from, from + t), ones, all);
            System.arraycopy(logits, 0, out, from, t);
        }
        return out;
    }

    /**
     * One pass in which sequence {@code i} reads {@code counts[i]} consecutive tokens of {@code tokens} (in order):
     * decode rows (one token each) with, say, a chunk of a long prompt riding along, so the chunk shares the
     * step's single read of the weights instead of making a pass of its own. Returns each sequence's logits after
     * its last token, or null where {@code wantLogits[i]} is false. At most {@link #maxRows()} tokens in all.
     * {@link #forward} (one sequence) and {@link #step} (one token each) are its two plain cases.
     */
    float[][] mixed(Rwkv7State[] states, int[] tokens, int[] counts, boolean[] wantLogits) {
        int[] seg = new int[states.length + 1];
        for (int i = 0; i < states.length; i++) seg[i + 1] = seg[i] + counts[i];
        int t = seg[states.length];
        if (t > z.rows) throw new IllegalArgumentException("a pass of " + t + " tokens > " + z.rows);
        run(states, seg, tokens, t);
        int wanted = 0;
        for (boolean w : wantLogits) if (w) wanted++;
        int[] rows = new int[wanted];
        for (int i = 0, k = 0; i < states.length; i++) {
            states[i].position += counts[i];
            if (wantLogits[i]) rows[k++] = seg[i + 1] - 1;
        }
        float[][] logits = logits(rows);
        float[][] out = new float[states.length][];
        for (int i = 0, k = 0; i < states.length; i++) if (wantLogits[i]) out[i] = logits[k++];
        return out;
    }

    /**
     * Runs {@code t} rows through every block: sequence {@code i} owns rows {@code [seg[i], seg[i+1])}, its
     * consecutive tokens (priming: one sequence of t rows; batched decode: t sequences of one row; a mixed step:
     * both).
     */
    private void run(Rwkv7State[] seq, int[] seg, int[] tokens, int t) {
        int c = cfg.dim();
        for (int i = 0; i < seq.length; i++) {
            for (int row = seg[i]; row < seg[i + 1]; row++) rowSeq[row] = i;
        }
        for (int i = 0; i < t; i++) {
            int tok = tokens[i];
            if (tok < 0 || tok >= cfg.vocab()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + cfg.vocab() + ")");
            }
            emb.widenRow(tok, embRow, 0);
            layerNorm(embRow, 0, c, wt.ln0W, 0, wt.ln0B, 0, LN_EPS, z.x, i * c);
        }
        Rwkv7Projections p = t <= host.maxRows() || batched == null ? host : batched;
        for (int l = 0; l < cfg.layers(); l++) {
            timeMix(p, wt.layers[l], seq, seg, l, t);
            channelMix(p, wt.layers[l], seq, seg, l, t);
        }
    }

    /** Logits of the given rows: {@code LN(x; ln_out) head^T}, the head streamed once for all of them. */
    private float[][] logits(int[] rows) {
        int c = cfg.dim(), vocab = cfg.vocab(), n = rows.length;
        if (n == 0) return new float[0][];
        for (int i = 0; i < n; i++) {
            layerNorm(z.x, rows[i] * c, c, wt.lnOutW, 0, wt.lnOutB, 0, LN_EPS, lnOut, i * c);
        }
        float[][] out = new float[n][];
        if (n == 1) {                                          // decode of one sequence: straight into its array
            out[0] = new float[vocab];
            io.engram.model.ops.ServedKernels.matVecs(new io.engram.model.ops.ServedKernels.Job(host.head(), lnOut, 0, out[0], 0, 1));
            return out;
        }
        if (headOut.length < n * vocab) headOut = new float[n * vocab];
        io.engram.model.ops.ServedKernels.matVecs(new io.engram.model.ops.ServedKernels.Job(host.head(), lnOut, 0, headOut, 0, n));
        for (int i = 0; i < n; i++) out[i] = java.util.Arrays.copyOfRange(headOut, i * vocab, (i + 1) * vocab);
        return out;
    }

    /**
     * The token shift: layer-norm every row into {@code z.ln}, then fill {@code mixes} from
     * {@code x + (x_prev - x) * mix}, where x_prev is the previous row of the same sequence, or the sequence's
     * stored value for its first row; each stored value is then advanced to its sequence's last row.
     */
    private void tokenShift(int[] seg, float[][] prevOf, int t, float[] lnW, float[] lnB, Shift mixes) {
        int c = cfg.dim();
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) layerNorm(z.x, row * c, c, lnW, 0, lnB, 0, LN_EPS, z.ln, row * c);
        });
        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) {
                int sq = rowSeq[row];
                if (row > seg[sq]) mixes.apply(z.ln, (row - 1) * c, row * c);
                else mixes.apply(prevOf[sq], 0, row * c);
            }
        });
        for (int i = 0; i < prevOf.length; i++) System.arraycopy(z.ln, (seg[i + 1] - 1) * c, prevOf[i], 0, c);
    }

    /** Writes the mixes of the row at {@code o} of {@code z.ln}, with x_prev at {@code prev[po..]}. */
    @FunctionalInterface
    private interface Shift {
        void apply(float[] prev, int po, int o);
    }

    private void timeMix(Rwkv7Projections p, Rwkv7Weights.Layer w, Rwkv7State[] seq, int[] seg, int l, int t) {
        int c = cfg.dim(), h = cfg.heads(), n = cfg.headSize();
        float[][] prevOf = new float[seq.length][];
        for (int i = 0; i < seq.length; i++) prevOf[i] = seq[i].attXPrev[l];
        tokenShift(seg, prevOf, t, w.ln1W, w.ln1B, (prev, po, o) -> {
            for (int i = 0; i < c; i++) {
                float x = z.ln[o + i], d = prev[po + i] - x;
                z.xr[o + i] = x + d * w.xR[i];
                z.xw[o + i] = x + d * w.xW[i];
                z.xk[o + i] = x + d * w.xK[i];
                z.xv[o + i] = x + d * w.xV[i];
                z.xa[o + i] = x + d * w.xA[i];
                z.xg[o + i] = x + d * w.xG[i];
            }
        });

        p.timeMixIn(l, t, z);

        CpuTeam.forRange(t, ROW_GRAIN, (r0, r1) -> {
            for (int row = r0; row < r1; row++) mixVectors(w, l, row * c);
        });
        // S = S*w + (S @ -kk)(kk*a)^T + v k^T ; y = S r ; then GroupNorm, bonus and gate. Each (sequence, head)
        // is an independent recurrence: each sequence runs its rows in order, head by head.
        CpuTeam.forRange(seq.length * h, 1, (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int head = i % h, sq = i / h;
                float[] s = seq[sq].attKv[l];
                for (int row = seg[sq]; row < seg[sq + 1]; row++) {
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
        int c = cfg.dim(), n = cfg.headSize();
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
        for (int i = 0; i < c; i++) z.negKk[o + i] = z.k[o + i] * w.kK[i];
        for (int ho = o; ho < o + c; ho += n) {
            float inv = (float) (1.0 / Math.max(Math.sqrt(CpuKernels.dot(z.negKk, ho, z.negKk, ho, n)), 1e-12));
            for (int j = 0; j < n; j++) z.negKk[ho + j] *= inv;
        }
        for (int i = 0; i < c; i++) {
            float kk = z.negKk[o + i], a = z.a[o + i];
            z.kkA[o + i] = kk * a;
            z.negKk[o + i] = -kk;
            z.k[o + i] *= 1 + (a - 1) * w.kA[i];
        }
    }

    private void channelMix(Rwkv7Projections p, Rwkv7Weights.Layer w, Rwkv7State[] seq, int[] seg, int l, int t) {
        int c = cfg.dim();
        float[][] prevOf = new float[seq.length][];
        for (int i = 0; i < seq.length; i++) prevOf[i] = seq[i].ffnXPrev[l];
        tokenShift(seg, prevOf, t, w.ln2W, w.ln2B, (prev, po, o) -> {
            for (int i = 0; i < c; i++) z.xk[o + i] = z.ln[o + i] + (prev[po + i] - z.ln[o + i]) * w.ffnXK[i];
        });
        p.channelMix(l, t, z);
        addResidual(t);
    }

    private void addResidual(int t) {
        int n = t * cfg.dim();
        for (int i = 0; i < n; i++) z.x[i] += z.dx[i];
    }

    @Override
    public void close() {
        host.close();
        if (batched != null) batched.close();
    }
}
