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
}
