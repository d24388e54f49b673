package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * RetNet's relative position: queries and keys are rotated by {@code p·θ_i} on interleaved channel pairs
 * {@code (2i, 2i+1)}, p the token's absolute position (torchscale's {@code theta_shift}; not xPos, not half-split
 * RoPE). θ comes from the checkpoint's {@code retnet_rel_pos.angle}, {@code 10000^-(i/(dk/2-1))} in torchscale.
 * Angles are formed in double precision, so a position in the hundreds of thousands keeps its phase.
 */
final class Rotary {

    /** θ_i per channel pair, i < dk/2. */
    private final double[] theta;
    /** [dk,dk]: {@code x @ J} is torchscale's {@code rotate_every_two(x)}, (x0,x1,...) -> (-x1,x0,...). */
    private final NDArray j;

    Rotary(NDManager m, float[] angle) {
        int dk = angle.length;
        theta = new double[dk / 2];
        for (int i = 0; i < theta.length; i++) theta[i] = angle[2 * i];
        float[] jm = new float[dk * dk];
        for (int i = 0; i < dk / 2; i++) {
            jm[(2 * i + 1) * dk + 2 * i] = -1f; // out[2i]   = -x[2i+1]
            jm[(2 * i) * dk + 2 * i + 1] = 1f;  // out[2i+1] =  x[2i]
        }
        j = m.create(jm, new Shape(dk, dk));
    }

    /** cos and sin of {@code p·θ} for the positions {@code p0 .. p0+n-1}, each [n,dk] (pairs repeated). */
    record Tables(NDArray cos, NDArray sin) {}

    Tables tables(NDManager m, long p0, int n) {
        int dk = 2 * theta.length;
        float[] c = new float[n * dk], s = new float[n * dk];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < theta.length; i++) {
                double a = (p0 + t) * theta[i];
                float ca = (float) Math.cos(a), sa = (float) Math.sin(a);
                c[t * dk + 2 * i] = ca;
                c[t * dk + 2 * i + 1] = ca;
                s[t * dk + 2 * i] = sa;
                s[t * dk + 2 * i + 1] = sa;
            }
        }
        return new Tables(m.create(c, new Shape(n, dk)), m.create(s, new Shape(n, dk)));
    }

    /**
     * Tables for B sequences at their own positions (a batched decode step), shaped [B,1,dk] so that they rotate
     * {@code x [B,H,dk]} row by row through {@link #apply}.
     */
    Tables tablesAt(NDManager m, long[] positions) {
        int dk = 2 * theta.length, b = positions.length;
        float[] c = new float[b * dk], s = new float[b * dk];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < theta.length; i++) {
                double a = positions[r] * theta[i];
                float ca = (float) Math.cos(a), sa = (float) Math.sin(a);
                c[r * dk + 2 * i] = ca;
                c[r * dk + 2 * i + 1] = ca;
                s[r * dk + 2 * i] = sa;
                s[r * dk + 2 * i + 1] = sa;
            }
        }
        return new Tables(m.create(c, new Shape(b, 1, dk)), m.create(s, new Shape(b, 1, dk)));
    }

    /** @param x [H,n,dk] queries or keys of positions p0..p0+n-1; returns them rotated, [H,n,dk]. */
    NDArray apply(NDArray x, Tables t) {
        return x.mul(t.cos()).add(x.matMul(j).mul(t.sin()));
    }

    /**
     * Re-bases a state by δ positions: rotates every row of {@code kv [H, dv, dk]} along its key axis by δ·θ, in
     * place. Since each stored key k̃_j = R(j)k_j, the result equals having read the same tokens starting δ
     * positions later (the decay and the normaliser do not depend on the absolute position).
     */
    void rebase(float[] kv, int heads, int valueDim, long delta) {
        int dk = 2 * theta.length;
        if (delta == 0) return;
        double[] cos = new double[theta.length], sin = new double[theta.length];
        for (int i = 0; i < theta.length; i++) {
            cos[i] = Math.cos(delta * theta[i]);
            sin[i] = Math.sin(delta * theta[i]);
        }
        for (int row = 0; row < heads * valueDim; row++) {
            int o = row * dk;
            for (int i = 0; i < theta.length; i++) {
                double x0 = kv[o + 2 * i], x1 = kv[o + 2 * i + 1];
                kv[o + 2 * i] = (float) (x0 * cos[i] - x1 * sin[i]);
                kv[o + 2 * i + 1] = (float) (x1 * cos[i] + x0 * sin[i]);
            }
        }
    }
}
