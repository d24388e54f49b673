package io.engram.model.ops;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vector API inner loops. Only loaded when {@link CpuKernels#VECTOR_API} is true. */
final class VectorOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorOps() {}

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector acc0 = FloatVector.zero(S), acc1 = FloatVector.zero(S);
        int step = S.length();
        for (; i + step < bound; i += 2 * step) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(S, a, ao + i + step).fma(FloatVector.fromArray(S, b, bo + i + step), acc1);
        }
        for (; i < bound; i += step) {
            acc0 = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector va = FloatVector.broadcast(S, a);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** Four dot products of one weight row with four vectors, reading the row once: {@code ys[i+q][o]}. */
    static void dot4(float[] w, int wo, float[] x0, float[] x1, float[] x2, float[] x3, int n, float[][] ys, int i, int o) {
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S), a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
        int j = 0;
        int bound = S.loopBound(n);
        for (; j < bound; j += S.length()) {
            FloatVector wv = FloatVector.fromArray(S, w, wo + j);
            a0 = wv.fma(FloatVector.fromArray(S, x0, j), a0);
            a1 = wv.fma(FloatVector.fromArray(S, x1, j), a1);
            a2 = wv.fma(FloatVector.fromArray(S, x2, j), a2);
            a3 = wv.fma(FloatVector.fromArray(S, x3, j), a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            float wj = w[wo + j];
            s0 += wj * x0[j];
            s1 += wj * x1[j];
            s2 += wj * x2[j];
            s3 += wj * x3[j];
        }
        ys[i][o] = s0;
        ys[i + 1][o] = s1;
        ys[i + 2][o] = s2;
        ys[i + 3][o] = s3;
    }
}
