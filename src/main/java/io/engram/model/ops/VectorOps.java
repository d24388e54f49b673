package io.engram.model.ops;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vector API inner loops. Only loaded when {@link CpuKernels#VECTOR_API} is true. */
final class VectorOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private VectorOps() {}

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector acc0 = FloatVector.zero(S), acc1 = FloatVector.zero(S);
        for (; i + L < bound; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + L).fma(FloatVector.fromArray(S, b, bo + i + L), acc1);
        }
        for (; i < bound; i += L) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /**
     * {@code y[yo + r*out + o] = W[o,:] . x[xo + r*in ..]} for weight rows {@code [from, to)} and input rows
     * {@code r < rows}, four weight rows at a time ({@link #rows4}): the four rows stay in L1 while every input row
     * is multiplied, so the weights are read from memory once whatever the number of rows.
     */
    static void matVecRows(float[] w, int out, int in, float[] x, int xo, float[] y, int yo, int rows, int from, int to) {
        int o = from;
        for (; o + 4 <= to; o += 4) rows4x4(w, o * in, in, x, xo, y, yo + o, out, rows);
        for (; o < to; o++) {
            for (int row = 0; row < rows; row++) y[yo + row * out + o] = dot(w, o * in, x, xo + row * in, in);
        }
    }

    /**
     * The micro-kernel of the batched products: {@code y[yo + r*ys + k] = w[wo + k*in ..] . x[xo + r*in ..]} for the
     * four weight rows {@code k < 4} and every input row {@code r < rows}. Input rows go two at a time, so one pass
     * keeps eight independent accumulators (four weight rows × two input rows): enough to hide the FMA latency on
     * both FMA ports, with six loads per eight FMAs where one input row at a time has four chains and five loads
     * per four FMAs.
     */
    static void rows4(float[] w, int wo, int in, float[] x, int xo, float[] y, int yo, int ys, int rows) {
        int bound = S.loopBound(in);
        int w0 = wo, w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
        int row = 0;
        for (; row + 2 <= rows; row += 2) {
            int xa = xo + row * in, xb = xa + in;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector va = FloatVector.fromArray(S, x, xa + i), vb = FloatVector.fromArray(S, x, xb + i);
                FloatVector u0 = FloatVector.fromArray(S, w, w0 + i), u1 = FloatVector.fromArray(S, w, w1 + i);
                a0 = u0.fma(va, a0);
                b0 = u0.fma(vb, b0);
                a1 = u1.fma(va, a1);
                b1 = u1.fma(vb, b1);
                FloatVector u2 = FloatVector.fromArray(S, w, w2 + i), u3 = FloatVector.fromArray(S, w, w3 + i);
                a2 = u2.fma(va, a2);
                b2 = u2.fma(vb, b2);
                a3 = u3.fma(va, a3);
                b3 = u3.fma(vb, b3);
            }
            store4(w, wo, in, x, xa, i, y, yo + row * ys, sum(a0), sum(a1), sum(a2), sum(a3));
            store4(w, wo, in, x, xb, i, y, yo + (row + 1) * ys, sum(b0), sum(b1), sum(b2), sum(b3));
        }
        if (row < rows) {                                       // an odd last input row: four chains
            int xr = xo + row * in;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector xv = FloatVector.fromArray(S, x, xr + i);
                a0 = FloatVector.fromArray(S, w, w0 + i).fma(xv, a0);
                a1 = FloatVector.fromArray(S, w, w1 + i).fma(xv, a1);
                a2 = FloatVector.fromArray(S, w, w2 + i).fma(xv, a2);
                a3 = FloatVector.fromArray(S, w, w3 + i).fma(xv, a3);
            }
            store4(w, wo, in, x, xr, i, y, yo + row * ys, sum(a0), sum(a1), sum(a2), sum(a3));
        }
    }

    /**
     * Whether a register tile of four weight rows by four input rows fits: sixteen accumulators plus the eight
     * operands need the 32 vector registers of AVX-512; with 16 (AVX2) the tile would spill, so {@link #rows4}'s
     * four by two is used instead.
     */
    static final boolean TILE_4X4 = L >= 16 && !Boolean.getBoolean("engram.cpu.no-tile4x4");

    /**
     * {@link #rows4} with input rows four at a time where the registers allow ({@link #TILE_4X4}): sixteen
     * accumulators, eight loads per sixteen FMAs instead of six per eight, and half as many passes over the four
     * weight rows. Each (weight row, input row) pair accumulates in the same order as in {@link #rows4}, so the
     * results are bit-identical.
     */
    static void rows4x4(float[] w, int wo, int in, float[] x, int xo, float[] y, int yo, int ys, int rows) {
        if (TILE_4X4) {
            tile4x4(w, wo, in, x, xo, y, yo, ys, rows);
        } else {
            rows4(w, wo, in, x, xo, y, yo, ys, rows);
        }
    }

    /** The four-by-four tile of {@link #rows4x4} whatever the registers (tests run it on AVX2 too). */
    static void tile4x4(float[] w, int wo, int in, float[] x, int xo, float[] y, int yo, int ys, int rows) {
        int row = 0;
        int bound = S.loopBound(in);
        int w0 = wo, w1 = w0 + in, w2 = w1 + in, w3 = w2 + in;
        for (; row + 4 <= rows; row += 4) {
            int xa = xo + row * in, xb = xa + in, xc = xb + in, xd = xc + in;
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            FloatVector c0 = a0, c1 = a0, c2 = a0, c3 = a0, d0 = a0, d1 = a0, d2 = a0, d3 = a0;
            int i = 0;
            for (; i < bound; i += L) {
                FloatVector va = FloatVector.fromArray(S, x, xa + i), vb = FloatVector.fromArray(S, x, xb + i);
                FloatVector vc = FloatVector.fromArray(S, x, xc + i), vd = FloatVector.fromArray(S, x, xd + i);
                FloatVector u = FloatVector.fromArray(S, w, w0 + i);
                a0 = u.fma(va, a0);
                b0 = u.fma(vb, b0);
                c0 = u.fma(vc, c0);
                d0 = u.fma(vd, d0);
                u = FloatVector.fromArray(S, w, w1 + i);
                a1 = u.fma(va, a1);
                b1 = u.fma(vb, b1);
                c1 = u.fma(vc, c1);
                d1 = u.fma(vd, d1);
                u = FloatVector.fromArray(S, w, w2 + i);
                a2 = u.fma(va, a2);
                b2 = u.fma(vb, b2);
                c2 = u.fma(vc, c2);
                d2 = u.fma(vd, d2);
                u = FloatVector.fromArray(S, w, w3 + i);
                a3 = u.fma(va, a3);
                b3 = u.fma(vb, b3);
                c3 = u.fma(vc, c3);
                d3 = u.fma(vd, d3);
            }
            store4(w, wo, in, x, xa, i, y, yo + row * ys, sum(a0), sum(a1), sum(a2), sum(a3));
            store4(w, wo, in, x, xb, i, y, yo + (row + 1) * ys, sum(b0), sum(b1), sum(b2), sum(b3));
            store4(w, wo, in, x, xc, i, y, yo + (row + 2) * ys, sum(c0), sum(c1), sum(c2), sum(c3));
            store4(w, wo, in, x, xd, i, y, yo + (row + 3) * ys, sum(d0), sum(d1), sum(d2), sum(d3));
        }
        if (row < rows) rows4(w, wo, in, x, xo + row * in, y, yo + row * ys, ys, rows - row);
    }

    private static float sum(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@code y[yo + k] = sk} (the lane sum of a vector part) plus columns {@code [from, in)} of weight row {@code k}
     * times input row {@code xr}, for the four weight rows at {@code wo}. Takes floats, not vectors, so nothing is
     * boxed if the JIT does not inline it.
     */
    private static void store4(float[] w, int wo, int in, float[] x, int xr, int from, float[] y, int yo,
                               float s0, float s1, float s2, float s3) {
        for (int i = from; i < in; i++) {
            float xi = x[xr + i];
            s0 += w[wo + i] * xi;
            s1 += w[wo + in + i] * xi;
            s2 += w[wo + 2 * in + i] * xi;
            s3 += w[wo + 3 * in + i] * xi;
        }
        y[yo] = s0;
        y[yo + 1] = s1;
        y[yo + 2] = s2;
        y[yo + 3] = s3;
    }

    /**
     * {@link CpuKernels#vecMatRowsColumns}: outer-product form, one vector of columns of M times a broadcast input
     * value per FMA, four input rows per pass over M's rows; columns the vectors leave go one at a time as in
     * {@link #axpy}'s tail.
     */
    static void vecMatRowsColumns(float[] x, int xo, int rows, float[] m, int in, int out, float[] y, int yo,
                                  int from, int to) {
        int vecEnd = from + S.loopBound(to - from);
        for (int col = from; col < vecEnd; col += L) {
            int r = 0;
            for (; r + 4 <= rows; r += 4) {
                int xa = xo + r * in, xb = xa + in, xc = xb + in, xd = xc + in;
                FloatVector a = FloatVector.zero(S), b = a, c = a, d = a;
                for (int i = 0; i < in; i++) {
                    FloatVector u = FloatVector.fromArray(S, m, i * out + col);
                    a = u.fma(FloatVector.broadcast(S, x[xa + i]), a);
                    b = u.fma(FloatVector.broadcast(S, x[xb + i]), b);
                    c = u.fma(FloatVector.broadcast(S, x[xc + i]), c);
                    d = u.fma(FloatVector.broadcast(S, x[xd + i]), d);
                }
                int ya = yo + r * out + col;
                a.intoArray(y, ya);
                b.intoArray(y, ya + out);
                c.intoArray(y, ya + 2 * out);
                d.intoArray(y, ya + 3 * out);
            }
            for (; r < rows; r++) {
                int xr = xo + r * in;
                FloatVector a = FloatVector.zero(S);
                for (int i = 0; i < in; i++) a = FloatVector.fromArray(S, m, i * out + col).fma(FloatVector.broadcast(S, x[xr + i]), a);
                a.intoArray(y, yo + r * out + col);
            }
        }
        for (int r = 0; r < rows && vecEnd < to; r++) {
            int xr = xo + r * in, yr = yo + r * out;
            for (int o = vecEnd; o < to; o++) {
                float s = 0f;
                for (int i = 0; i < in; i++) s += x[xr + i] * m[i * out + o];
                y[yr + o] = s;
            }
        }
    }

    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector va = FloatVector.broadcast(S, a);
        for (; i < bound; i += L) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    static void exp(float[] x, int o, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, x, o + i).lanewise(VectorOperators.EXP).intoArray(x, o + i);
        }
        for (; i < n; i++) x[o + i] = (float) Math.exp(x[o + i]);
    }

    static void tanh(float[] x, int o, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(S, x, o + i).lanewise(VectorOperators.TANH).intoArray(x, o + i);
        }
        for (; i < n; i++) x[o + i] = (float) Math.tanh(x[o + i]);
    }

    static void sigmoid(float[] x, int o, int n) {
        int i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int bound = S.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, o + i);
            one.div(v.neg().lanewise(VectorOperators.EXP).add(one)).intoArray(x, o + i);
        }
        for (; i < n; i++) x[o + i] = (float) (1.0 / (1.0 + Math.exp(-x[o + i])));
    }

    /** LayerNorm of x[xo, xo+n) into out[oo..], in three vector passes (mean, variance, scale). */
    static void layerNorm(float[] x, int xo, int n, float[] w, int wo, float[] b, int bo, float eps, float[] out, int oo) {
        int bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i < bound; i += L) acc = acc.add(FloatVector.fromArray(S, x, xo + i));
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += x[xo + i];
        float mean = sum / n;
        FloatVector m = FloatVector.broadcast(S, mean);
        acc = FloatVector.zero(S);
        for (i = 0; i < bound; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, xo + i).sub(m);
            acc = d.fma(d, acc);
        }
        float sq = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sq += (x[xo + i] - mean) * (x[xo + i] - mean);
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
        FloatVector invV = FloatVector.broadcast(S, inv);
        for (i = 0; i < bound; i += L) {
            FloatVector.fromArray(S, x, xo + i).sub(m).mul(invV)
                    .fma(FloatVector.fromArray(S, w, wo + i), FloatVector.fromArray(S, b, bo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) out[oo + i] = (x[xo + i] - mean) * inv * w[wo + i] + b[bo + i];
    }
}
