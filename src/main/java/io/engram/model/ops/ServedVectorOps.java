package io.engram.model.ops;

import io.engram.weights.ServeDtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** Vector API loops over {@link ServedMatrix} formats. Only loaded when {@link CpuKernels#VECTOR_API} is true. */
final class ServedVectorOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    private static final int L = S.length();
    /** Whether {@link #bytes} has a vector form: L int8 weights are L/4 ints, which needs L to be a multiple of 4. */
    private static final boolean INT8_VECTORS = L % 4 == 0;
    /** L/4 ints: a quarter of an int8 block (L weights) as one vector shape of 64 bits or more; with 4 lanes, one int does not fill one. */
    private static final VectorSpecies<Integer> SQ = L >= 8 ? VectorSpecies.of(int.class, VectorShape.forBitSize(8 * L)) : SI;
    /** 4 lanes: the left shifts that put byte k of one broadcast int at the top of lane k. */
    private static final IntVector BYTE_SHIFTS = L == 4 ? IntVector.fromArray(SI, new int[] {24, 16, 8, 0}, 0) : null;
    private static final int HIGH = 0xFFFF0000;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private ServedVectorOps() {}

    static int floatLanes() {
        return L;
    }

    /** Widens packed bf16 words: the low halves (first vector of a block) and the high halves (second). */
    private static FloatVector low(IntVector wv) {
        return wv.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static FloatVector high(IntVector wv) {
        return wv.lanewise(VectorOperators.AND, HIGH).reinterpretAsFloats();
    }

    /** L ints of a packed matrix ({@link ServedMatrix#words}) from int {@code at}: the heap array, or the off-heap buffer when {@code d} is set. */
    private static IntVector ints(int[] q, ByteBuffer d, int at) {
        return d != null ? IntVector.fromByteBuffer(SI, d, 4 * at, ORDER) : IntVector.fromArray(SI, q, at);
    }

    /**
     * {@code y[yo + o] = W[o,:] . x[xo..]} for bf16 weight rows {@code [from, to)}, heap or off-heap: one tile of
     * four rows per pass, read as one stream ({@link ServedMatrix}'s layout), each x load shared by the four.
     */
    static void bf16Rows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        if (w.lanes != L) {
            scalarRows(w, x, xo, y, yo, from, to);
            return;
        }
        int blocks = w.in / (2 * L);                                   // full blocks; the rest is a scalar tail
        int[] p = w.words;
        ByteBuffer d = w.data;
        int o = from;
        for (; o < to && (o & 3) != 0; o++) scalarRows(w, x, xo, y, yo, o, o + 1);     // up to the first tile
        for (; o + 4 <= to; o += 4) {
            int tile = w.blockAt(o, 0);
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int b = 0; b < blocks; b++) {
                int at = tile + b * 4 * L, xi = xo + b * 2 * L;           // block b of rows 0..3, L ints each
                FloatVector xl = FloatVector.fromArray(S, x, xi), xh = FloatVector.fromArray(S, x, xi + L);
                IntVector w0 = ints(p, d, at), w1 = ints(p, d, at + L), w2 = ints(p, d, at + 2 * L), w3 = ints(p, d, at + 3 * L);
                a0 = high(w0).fma(xh, low(w0).fma(xl, a0));
                a1 = high(w1).fma(xh, low(w1).fma(xl, a1));
                a2 = high(w2).fma(xh, low(w2).fma(xl, a2));
                a3 = high(w3).fma(xh, low(w3).fma(xl, a3));
            }
            finish4(w, x, xo, y, yo, o, blocks * 2 * L, a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD),
                    a2.reduceLanes(VectorOperators.ADD), a3.reduceLanes(VectorOperators.ADD));
        }
        scalarRows(w, x, xo, y, yo, o, to);
    }

    /** {@code y[yo + o] = W[o,:] . x[xo..]} for rows {@code [from, to)} of an off-heap float32 matrix, four rows per pass. */
    static void f32OffHeapRows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        int in = w.in, bound = S.loopBound(in);
        ByteBuffer d = w.data;
        int o = from;
        for (; o + 4 <= to; o += 4) {
            int r0 = 4 * o * in, r1 = r0 + 4 * in, r2 = r1 + 4 * in, r3 = r2 + 4 * in;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector xv = FloatVector.fromArray(S, x, xo + i);
                a0 = FloatVector.fromByteBuffer(S, d, r0 + 4 * i, ORDER).fma(xv, a0);
                a1 = FloatVector.fromByteBuffer(S, d, r1 + 4 * i, ORDER).fma(xv, a1);
                a2 = FloatVector.fromByteBuffer(S, d, r2 + 4 * i, ORDER).fma(xv, a2);
                a3 = FloatVector.fromByteBuffer(S, d, r3 + 4 * i, ORDER).fma(xv, a3);
            }
            finish4(w, x, xo, y, yo, o, i, a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD),
                    a2.reduceLanes(VectorOperators.ADD), a3.reduceLanes(VectorOperators.ADD));
        }
        scalarRows(w, x, xo, y, yo, o, to);
    }

    /**
     * Stores four rows' dot products {@code y[yo + o .. o+3]}: the lane sums {@code s0..s3} of their vector parts
     * plus columns {@code [from, in)} (what no full vector covered) one at a time. Takes floats, not vectors, so
     * nothing is boxed if the JIT does not inline it.
     */
    private static void finish4(ServedMatrix w, float[] x, int xo, float[] y, int yo, int o, int from,
                                float s0, float s1, float s2, float s3) {
        for (int i = from; i < w.in; i++) {
            float xi = x[xo + i];
            s0 += w.get(o, i) * xi;
            s1 += w.get(o + 1, i) * xi;
            s2 += w.get(o + 2, i) * xi;
            s3 += w.get(o + 3, i) * xi;
        }
        y[yo + o] = s0;
        y[yo + o + 1] = s1;
        y[yo + o + 2] = s2;
        y[yo + o + 3] = s3;
    }

    /** {@code y[yo + o] = W[o,:] . x[xo..]} one value at a time, for rows {@code [from, to)} (the rows a pass of four leaves). */
    private static void scalarRows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        for (int o = from; o < to; o++) {
            float s = 0f;
            for (int i = 0; i < w.in; i++) s += w.get(o, i) * x[xo + i];
            y[yo + o] = s;
        }
    }

    /**
     * L int8 weights from int {@code at} of a packed matrix ({@code L/4} ints, the bytes in column order),
     * sign-extended to floats by one conversion ({@code vpmovsxbd} + {@code vcvtdq2ps} on x86).
     */
    private static FloatVector bytes(int[] q, ByteBuffer d, int at) {
        if (L == 4) {                                         // 128-bit vectors: one int, its bytes shifted into lanes
            IntVector v = IntVector.broadcast(SI, d != null ? d.getInt(4 * at) : q[at]);
            return (FloatVector) v.lanewise(VectorOperators.LSHL, BYTE_SHIFTS).lanewise(VectorOperators.ASHR, 24)
                    .convert(VectorOperators.I2F, 0);
        }
        IntVector v = d != null ? IntVector.fromByteBuffer(SQ, d, 4 * at, ORDER) : IntVector.fromArray(SQ, q, at);
        return (FloatVector) v.reinterpretAsBytes().convertShape(VectorOperators.B2F, S, 0);
    }

    /**
     * {@code y[yo + o] = W[o,:] . x[xo..]} for int8 weight rows {@code [from, to)}, heap or off-heap: one tile of
     * four rows per pass, read as one stream ({@link ServedMatrix}'s layout); each block of {@code 4L} columns is
     * sixteen widening loads and FMAs, and each group's sum is scaled once.
     */
    static void int8Rows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        int g = w.group, groups = w.groups, block = 4 * L, q4 = L / 4;
        if (!INT8_VECTORS || w.lanes != L || g % block != 0) {  // groups that are not whole blocks: scalar
            scalarRows(w, x, xo, y, yo, from, to);
            return;
        }
        int[] q = w.words;
        ByteBuffer d = w.data;
        float[] sc = w.scales;
        int blocksPerGroup = g / block;
        int o = from;
        for (; o < to && (o & 3) != 0; o++) scalarRows(w, x, xo, y, yo, o, o + 1);     // up to the first tile
        for (; o + 4 <= to; o += 4) {
            int tile = w.blockAt(o, 0), s0 = o * groups;
            FloatVector t0 = FloatVector.zero(S), t1 = t0, t2 = t0, t3 = t0;
            for (int k = 0; k < groups; k++) {
                FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                for (int b = k * blocksPerGroup; b < (k + 1) * blocksPerGroup; b++) {
                    int at = tile + b * 4 * L, xi = xo + b * block;     // block b of rows 0..3, L ints each
                    for (int c = 0; c < 4; c++) {                          // quarter c: columns [cL, cL+L) of the block
                        FloatVector xv = FloatVector.fromArray(S, x, xi + c * L);
                        int qc = at + c * q4;
                        a0 = bytes(q, d, qc).fma(xv, a0);
                        a1 = bytes(q, d, qc + L).fma(xv, a1);
                        a2 = bytes(q, d, qc + 2 * L).fma(xv, a2);
                        a3 = bytes(q, d, qc + 3 * L).fma(xv, a3);
                    }
                }
                t0 = a0.fma(FloatVector.broadcast(S, sc[s0 + k]), t0);
                t1 = a1.fma(FloatVector.broadcast(S, sc[s0 + groups + k]), t1);
                t2 = a2.fma(FloatVector.broadcast(S, sc[s0 + 2 * groups + k]), t2);
                t3 = a3.fma(FloatVector.broadcast(S, sc[s0 + 3 * groups + k]), t3);
            }
            y[yo + o] = t0.reduceLanes(VectorOperators.ADD);
            y[yo + o + 1] = t1.reduceLanes(VectorOperators.ADD);
            y[yo + o + 2] = t2.reduceLanes(VectorOperators.ADD);
            y[yo + o + 3] = t3.reduceLanes(VectorOperators.ADD);
        }
        scalarRows(w, x, xo, y, yo, o, to);
    }

    /**
     * {@code y[yo + r*ys + k] = buf[k,:] . x[xo + r*in ..]} for the {@code n <= 4} widened rows in {@code buf}
     * and every input row {@code r < rows}: the block stays in L1 while all input rows pass.
     */
    static void f32Block(float[] buf, int n, int in, float[] x, int xo, float[] y, int yo, int ys, int rows) {
        if (n == 4) {
            VectorOps.rows4x4(buf, 0, in, x, xo, y, yo, ys, rows);
            return;
        }
        for (int row = 0; row < rows; row++) {
            for (int k = 0; k < n; k++) y[yo + row * ys + k] = VectorOps.dot(buf, k * in, x, xo + row * in, in);
        }
    }

    /**
     * The four weight rows of the tile that starts at row {@code o} ({@code o % 4 == 0}, {@code o + 4 <= out}) as
     * floats, row {@code k} into {@code dst[k * in ..]}: {@link #widenRow} four times, but reading the tile in
     * storage order, one stream. Same contract otherwise.
     */
    static boolean widenTile(ServedMatrix w, int o, float[] dst) {
        if (!widens(w)) return false;
        int in = w.in, cols = blockColumns(w);
        for (int b = 0; b < in / cols; b++) {
            for (int r = 0; r < 4; r++) widenBlock(w, o + r, b, dst, r * in + b * cols);
        }
        for (int r = 0; r < 4; r++) widenTail(w, o + r, dst, r * in);
        return true;
    }

    /**
     * Weight row {@code o} of a bf16 or int8 matrix, on or off the heap, as floats into {@code dst[at ..]},
     * widened in registers (what {@link ServedMatrix#rowInto} does one value at a time). Returns false where the
     * layout has no vector form (float32, or an int8 group that is not a multiple of the vector length), and then
     * writes nothing.
     */
    static boolean widenRow(ServedMatrix w, int o, float[] dst, int at) {
        if (!widens(w)) return false;
        int cols = blockColumns(w);
        for (int b = 0; b < w.in / cols; b++) widenBlock(w, o, b, dst, at + b * cols);
        widenTail(w, o, dst, at);
        return true;
    }

    /** Whether {@code w} has a vector form: bf16, or int8 whose groups are whole blocks. */
    private static boolean widens(ServedMatrix w) {
        return w.lanes == L && (w.dtype == ServeDtype.BFLOAT16
                || w.dtype == ServeDtype.INT8 && INT8_VECTORS && w.group % (4 * L) == 0);
    }

    /** Columns in one block: 2L in bf16, 4L in int8. */
    private static int blockColumns(ServedMatrix w) {
        return (w.dtype == ServeDtype.INT8 ? 4 : 2) * L;
    }

    /** Block {@code b} of weight row {@code o} as floats into {@code dst[to ..]}: one int vector load (bf16) or four widening ones (int8). */
    private static void widenBlock(ServedMatrix w, int o, int b, float[] dst, int to) {
        int at = w.blockAt(o, b);
        if (w.dtype == ServeDtype.BFLOAT16) {
            IntVector v = ints(w.words, w.data, at);
            low(v).intoArray(dst, to);
            high(v).intoArray(dst, to + L);
            return;
        }
        FloatVector s = FloatVector.broadcast(S, w.scales[o * w.groups + b * 4 * L / w.group]);
        for (int c = 0; c < 4; c++) bytes(w.words, w.data, at + c * L / 4).mul(s).intoArray(dst, to + c * L);
    }

    /** The columns of row {@code o} past its last full block (bf16 only: int8 rows here are whole blocks), one at a time. */
    private static void widenTail(ServedMatrix w, int o, float[] dst, int at) {
        for (int i = w.in / blockColumns(w) * blockColumns(w); i < w.in; i++) dst[at + i] = w.get(o, i);
    }
}
