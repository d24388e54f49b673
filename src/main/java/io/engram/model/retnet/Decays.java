package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The per-head decays γ_h of multi-scale retention, from the checkpoint's {@code retnet_rel_pos.decay} (log γ).
 *
 * <p>Overflow rule: every power of γ here has a non-negative exponent, computed as {@code exp(n·log γ)}. Nothing is
 * ever factored as {@code γ^i · γ^-j}: γ^-j overflows float32 after about 2,800 tokens for γ = 1 - 2^-5.
 */
final class Decays {

    /** log γ_h, as float32 in the checkpoint and widened exactly. */
    private final double[] log;

    Decays(float[] logDecay) {
        this.log = new double[logDecay.length];
        for (int h = 0; h < log.length; h++) log[h] = logDecay[h];
    }

    int heads() {
        return log.length;
    }

    /** γ_h^n for n >= 0. */
    double pow(int h, long n) {
        return Math.exp(n * log[h]);
    }

    /** S_n = Σ_{m<n} γ_h^m = (1 - γ^n)/(1 - γ): the scale after n tokens from the zero state (n when γ = 1). */
    double sum(int h, long n) {
        return log[h] == 0 ? n : Math.expm1(n * log[h]) / Math.expm1(log[h]);
    }

    /**
     * The decay mask of heads {@code [h0, h1)} over n positions: {@code D[h,i,j] = γ_h^(i-j)} for i >= j, else 0.
     *
     * @param lag [n,n] the lags {@code max(i-j, 0)}, from {@link #lags}
     * @param causal [n,n] 1 where i >= j, else 0, from {@link #lags}
     * @return [h1-h0, n, n], attached to {@code lag}'s manager
     */
    NDArray mask(NDArray lag, NDArray causal, int h0, int h1) {
        NDManager m = lag.getManager();
        float[] lg = new float[h1 - h0];
        for (int h = h0; h < h1; h++) lg[h - h0] = (float) log[h];
        int n = (int) lag.getShape().get(0);
        return lag.reshape(1, n, n)                                     // [1,n,n]
                .mul(m.create(lg, new Shape(h1 - h0, 1, 1)))            // [g,n,n] (i-j)·log γ <= 0
                .exp().mul(causal);                                     // [g,n,n]
    }

    /** The lags {@code max(i-j, 0)} and the causal 0/1 mask of an n-token block: {@code [lag, causal]}, each [n,n]. */
    static NDArray[] lags(NDManager m, int n) {
        NDArray idx = m.arange(0f, n, 1f, DataType.FLOAT32);            // [n]
        NDArray diff = idx.reshape(n, 1).sub(idx.reshape(1, n));        // [n,n] i-j
        return new NDArray[] {diff.maximum(0f), diff.gte(0f).toType(DataType.FLOAT32, false)};
    }
}
