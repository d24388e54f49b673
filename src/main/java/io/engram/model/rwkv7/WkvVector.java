package io.engram.model.rwkv7;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The Vector API form of {@link WkvRecurrence#step}. Only loaded when the incubator module is present. */
final class WkvVector {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private WkvVector() {}

    /**
     * One token of one WKV head, one pass per row i of S: {@code sa = S_i . a}, then
     * {@code S_i = S_i * w + sa * b + v_i * k} and {@code y_i = S_i . r}, with the row kept in registers between
     * the two dot products.
     */
    static void wkvStep(int n, float[] s, int so, float[] r, float[] w, float[] k, float[] v, float[] a,
                        float[] b, int vo, float[] y, int yo) {
        int bound = S.loopBound(n);
        for (int i = 0; i < n; i++) {
            int row = so + i * n;
            FloatVector acc = FloatVector.zero(S);
            int j = 0;
            for (; j < bound; j += L) {
                acc = FloatVector.fromArray(S, s, row + j).fma(FloatVector.fromArray(S, a, vo + j), acc);
            }
            float sa = acc.reduceLanes(VectorOperators.ADD);
            for (; j < n; j++) sa += s[row + j] * a[vo + j];
            float vi = v[vo + i];
            FloatVector saV = FloatVector.broadcast(S, sa), viV = FloatVector.broadcast(S, vi);
            FloatVector yAcc = FloatVector.zero(S);
            j = 0;
            for (; j < bound; j += L) {
                FloatVector upd = FloatVector.fromArray(S, b, vo + j).fma(saV, FloatVector.fromArray(S, k, vo + j).mul(viV));
                FloatVector sij = FloatVector.fromArray(S, s, row + j).fma(FloatVector.fromArray(S, w, vo + j), upd);
                sij.intoArray(s, row + j);
                yAcc = sij.fma(FloatVector.fromArray(S, r, vo + j), yAcc);
            }
            float acc2 = yAcc.reduceLanes(VectorOperators.ADD);
            for (; j < n; j++) {
                float sij = s[row + j] * w[vo + j] + sa * b[vo + j] + vi * k[vo + j];
                s[row + j] = sij;
                acc2 += sij * r[vo + j];
            }
            y[yo + i] = acc2;
        }
    }
}
