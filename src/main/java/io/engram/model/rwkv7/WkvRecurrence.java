package io.engram.model.rwkv7;

import io.engram.model.ops.CpuKernels;
import io.engram.model.ops.CpuTeam;

/**
 * The RWKV-7 WKV recurrence, the only part of a chunk that must run token by token. For each token and head
 * (S is {@code [N,N]}, row i a value channel, column j a key channel):
 * <pre>
 *   S = S * diag(w) + (S a) b^T + v k^T       with a = -kk, b = kk*a   (both terms use the old S)
 *   y = S r
 * </pre>
 * This is the "generalised delta rule" of the RWKV-7 paper; the {@code a}/{@code b} vectors are those passed to
 * the official CUDA kernel. Runs on host arrays: per step it touches H*N*N floats that stay in cache.
 */
final class WkvRecurrence {

    private WkvRecurrence() {}

    /**
     * @param s [H,N,N] the state, updated in place
     * @param r,w,k,v,a,b [T,C] per-token vectors (C = H*N)
     * @return y [T,C]
     */
    static float[] run(int t, int h, int n, float[] s, float[] r, float[] w, float[] k, float[] v, float[] a, float[] b) {
        int c = h * n;
        float[] y = new float[t * c];
        CpuTeam.forRange(h, 1, (h0, h1) -> {                 // heads are independent: split them across threads
            for (int head = h0; head < h1; head++) {
                for (int tok = 0; tok < t; tok++) step(n, s, head * n * n, r, w, k, v, a, b, tok * c + head * n, y);
            }
        });
        return y;
    }

    /** One token of one head: rows of S at {@code so}, vectors at {@code vo}, y written at {@code vo}. */
    static void step(int n, float[] s, int so, float[] r, float[] w, float[] k, float[] v, float[] a, float[] b,
                     int vo, float[] y) {
        if (CpuKernels.VECTOR_API) {
            WkvVector.wkvStep(n, s, so, r, w, k, v, a, b, vo, y, vo);
            return;
        }
        for (int i = 0; i < n; i++) {
            int row = so + i * n;
            float sa = 0f;
            for (int j = 0; j < n; j++) sa += s[row + j] * a[vo + j];
            float vi = v[vo + i];
            float acc = 0f;
            for (int j = 0; j < n; j++) {
                float sij = s[row + j] * w[vo + j] + sa * b[vo + j] + vi * k[vo + j];
                s[row + j] = sij;
                acc += sij * r[vo + j];
            }
            y[vo + i] = acc;
        }
    }
}
