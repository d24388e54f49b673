package io.engram.model.ops;

import io.engram.weights.ServeDtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/** Vector API loops over {@link ServedMatrix} formats. Only loaded when {@link CpuKernels#VECTOR_API} is true. */
final class ServedVectorOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = VectorSpecies.of(int.class, S.vectorShape());
    /** As many bytes as S has floats. */
    private static final VectorSpecies<Byte> SB = VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 4));
    private static final int L = S.length();
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

    /**
     * {@code y[yo + o] = W[o,:] . x[xo..]} for bf16 weight rows {@code [from, to)}: four rows per pass share each x
     * load. Heap or off-heap storage: the test on {@code off} is loop-invariant, so the JIT unswitches it.
     */
    static void bf16Rows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        int in = w.in, words = w.rowWords, blocks = in / (2 * L);       // full blocks; the rest is a scalar tail
        int[] p = w.bf16;
        ByteBuffer d = w.data;
        boolean off = d != null;
        int o = from;
        for (; o + 4 <= to; o += 4) {
            int b0 = o * words, b1 = b0 + words, b2 = b1 + words, b3 = b2 + words;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int b = 0; b < blocks; b++) {
                int wo = b * L, xi = xo + b * 2 * L;
                FloatVector xl = FloatVector.fromArray(S, x, xi), xh = FloatVector.fromArray(S, x, xi + L);
                IntVector w0, w1, w2, w3;
                if (off) {
                    w0 = IntVector.fromByteBuffer(SI, d, 4 * (b0 + wo), ORDER);
                    w1 = IntVector.fromByteBuffer(SI, d, 4 * (b1 + wo), ORDER);
                    w2 = IntVector.fromByteBuffer(SI, d, 4 * (b2 + wo), ORDER);
                    w3 = IntVector.fromByteBuffer(SI, d, 4 * (b3 + wo), ORDER);
                } else {
                    w0 = IntVector.fromArray(SI, p, b0 + wo);
                    w1 = IntVector.fromArray(SI, p, b1 + wo);
                    w2 = IntVector.fromArray(SI, p, b2 + wo);
                    w3 = IntVector.fromArray(SI, p, b3 + wo);
                }
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

    /** L int8 weights from {@code q[at..]} as floats (sign-extended in registers). */
    private static FloatVector widen(byte[] q, int at) {
        return (FloatVector) ByteVector.fromArray(SB, q, at).convertShape(VectorOperators.B2F, S, 0);
    }

    /** L int8 weights from byte {@code at} of an off-heap matrix, as floats. */
    private static FloatVector widen(ByteBuffer q, int at) {
        return (FloatVector) ByteVector.fromByteBuffer(SB, q, at, ORDER).convertShape(VectorOperators.B2F, S, 0);
    }

    /** {@code y[yo + o] = W[o,:] . x[xo..]} for int8 weight rows {@code [from, to)}, heap or off-heap, four rows per pass. */
    static void int8Rows(ServedMatrix w, float[] x, int xo, float[] y, int yo, int from, int to) {
        int in = w.in, g = w.group, groups = w.groups;
        byte[] q = w.q8;
        ByteBuffer d = w.data;
        boolean off = d != null;
        float[] sc = w.scales;
        int vecPerGroup = g / L;
        if (g % L != 0) {                                       // odd group sizes: scalar
            scalarRows(w, x, xo, y, yo, from, to);
            return;
        }
        int o = from;
        for (; o + 4 <= to; o += 4) {                          // four rows per pass share each x load
            int r0 = o * in, r1 = r0 + in, r2 = r1 + in, r3 = r2 + in, s0 = o * groups;
            FloatVector t0 = FloatVector.zero(S), t1 = t0, t2 = t0, t3 = t0;
            for (int k = 0; k < groups; k++) {
                FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                int base = k * g;
                for (int v = 0; v < vecPerGroup; v++) {
                    int i = base + v * L;
                    FloatVector xv = FloatVector.fromArray(S, x, xo + i);
                    if (off) {
                        a0 = widen(d, r0 + i).fma(xv, a0);
                        a1 = widen(d, r1 + i).fma(xv, a1);
                        a2 = widen(d, r2 + i).fma(xv, a2);
                        a3 = widen(d, r3 + i).fma(xv, a3);
                    } else {
                        a0 = widen(q, r0 + i).fma(xv, a0);
                        a1 = widen(q, r1 + i).fma(xv, a1);
                        a2 = widen(q, r2 + i).fma(xv, a2);
                        a3 = widen(q, r3 + i).fma(xv, a3);
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
     * Weight row {@code o} of a bf16 or int8 matrix, on or off the heap, as floats into {@code dst[at ..]},
     * widened in registers (what {@link ServedMatrix#rowInto} does one value at a time). Returns false where the
     * layout has no vector form (float32, or an int8 group that is not a multiple of the vector length), and then
     * writes nothing.
     */
    static boolean widenRow(ServedMatrix w, int o, float[] dst, int at) {
        int in = w.in;
        if (w.dtype == ServeDtype.BFLOAT16) {
            int blocks = in / (2 * L), base = o * w.rowWords;
            if (w.half != L) return false;
            for (int b = 0; b < blocks; b++) {
                IntVector wv = w.data != null ? IntVector.fromByteBuffer(SI, w.data, 4 * (base + b * L), ORDER)
                        : IntVector.fromArray(SI, w.bf16, base + b * L);
                low(wv).intoArray(dst, at + b * 2 * L);
                high(wv).intoArray(dst, at + b * 2 * L + L);
            }
            for (int i = blocks * 2 * L; i < in; i++) dst[at + i] = w.get(o, i);
            return true;
        }
        int g = w.group;
        if (w.dtype != ServeDtype.INT8 || g % L != 0) return false;
        int base = o * in, sb = o * w.groups;
        for (int k = 0; k < w.groups; k++) {
            FloatVector s = FloatVector.broadcast(S, w.scales[sb + k]);
            for (int i = k * g; i < (k + 1) * g; i += L) {
                FloatVector v = w.data != null ? widen(w.data, base + i) : widen(w.q8, base + i);
                v.mul(s).intoArray(dst, at + i);
            }
        }
        return true;
    }
}
