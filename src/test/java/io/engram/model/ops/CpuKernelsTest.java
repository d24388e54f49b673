package io.engram.model.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.model.ops.CpuKernels.MatVec;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The CPU kernels against plain double-precision loops, on odd shapes that exercise every tail. */
class CpuKernelsTest {

    private static final Random RND = new Random(11);

    private static float[] rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) RND.nextGaussian();
        return a;
    }

    private static void close(double want, float got, String what) {
        assertEquals(want, got, 1e-4 * Math.max(1, Math.abs(want)), what);
    }

    /** Within a few float32 ulps of the magnitude. */
    private static void ulps(float want, float got, String what) {
        assertEquals(want, got, 4 * Math.ulp(Math.max(1f, Math.abs(want))), what);
    }

    @Test
    void matVecsOfSeveralRowsAndJobsEqualTheDefinition() {
        int[][] shapes = {{1, 1}, {3, 5}, {37, 19}, {768, 64}, {130, 771}};
        for (int rows : new int[] {1, 2, 3, 5, 8, 16, 17}) {
            MatVec[] jobs = new MatVec[shapes.length];
            for (int s = 0; s < shapes.length; s++) {
                int out = shapes[s][0], in = shapes[s][1];
                jobs[s] = new MatVec(rand(out * in), out, in, rand(3 + rows * in), 3, new float[2 + rows * out], 2, rows);
            }
            CpuKernels.matVecs(jobs);
            for (MatVec j : jobs) {
                for (int r = 0; r < rows; r++) {
                    for (int o = 0; o < j.out(); o++) {
                        double want = 0;
                        for (int i = 0; i < j.in(); i++) want += (double) j.w()[o * j.in() + i] * j.x()[j.xo() + r * j.in() + i];
                        close(want, j.y()[j.yo() + r * j.out() + o], j.out() + "x" + j.in() + " row " + r + " out " + o);
                    }
                }
            }
        }
    }

    @Test
    void fourByFourTileEqualsFourByTwo() {
        // the AVX-512 tile (four input rows per pass) must give exactly what rows4 gives, tails included; run on
        // any machine, whatever TILE_4X4 says for this one
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuKernels.VECTOR_API, "needs --add-modules jdk.incubator.vector");
        for (int in : new int[] {768, 771, 40, 5}) {
            for (int rows : new int[] {1, 3, 4, 5, 8, 16, 17}) {
                float[] w = rand(4 * in + 7), x = rand(2 + rows * in);
                int ys = 9;
                float[] want = new float[1 + rows * ys], got = new float[1 + rows * ys];
                VectorOps.rows4(w, 7, in, x, 2, want, 1, ys, rows);
                VectorOps.tile4x4(w, 7, in, x, 2, got, 1, ys, rows);
                // the same sums in the same order; the Vector API may order the final lane sum differently in
                // compiled and interpreted code, hence a few ulps rather than bit for bit
                for (int i = 0; i < want.length; i++) ulps(want[i], got[i], "in " + in + ", rows " + rows + ", y[" + i + "]");
            }
        }
    }

    @Test
    void batchedUpProjectionIsBitIdenticalToRowByRow() {
        for (int in : new int[] {64, 32, 3}) {
            int out = 203;
            float[] m = rand(in * out);
            for (int rows : new int[] {1, 2, 4, 5, 16}) {
                float[] x = rand(3 + rows * in);
                float[] want = new float[rows * out + 4], got = new float[rows * out + 4];
                for (int[] cols : new int[][] {{0, out}, {16, 144}, {5, 198}}) {
                    for (int r = 0; r < rows; r++) {
                        CpuKernels.vecMatColumns(x, 3 + r * in, m, in, out, want, 4 + r * out, cols[0], cols[1]);
                    }
                    CpuKernels.vecMatRowsColumns(x, 3, rows, m, in, out, got, 4, cols[0], cols[1]);
                    org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, "in " + in + ", rows " + rows + ", columns " + cols[0] + ".." + cols[1]);
                    double d = 0;
                    for (int i = 0; i < in; i++) d += (double) x[3 + (rows - 1) * in + i] * m[i * out + cols[0]];
                    close(d, got[4 + (rows - 1) * out + cols[0]], "definition");
                }
            }
        }
    }

    @Test
    void vecMatLayerNormAndActivations() {
        int in = 67, out = 301;
        float[] x = rand(in), m = rand(in * out), y = new float[out];
        CpuKernels.vecMat(x, m, in, out, y);
        for (int o = 0; o < out; o++) {
            double want = 0;
            for (int i = 0; i < in; i++) want += (double) x[i] * m[i * out + o];
            close(want, y[o], "vecMat " + o);
        }

        int n = 771;
        float[] v = rand(n), w = rand(n), b = rand(n), ln = new float[n];
        CpuKernels.layerNorm(v, 0, n, w, 0, b, 0, 1e-5f, ln, 0);
        double mean = 0, var = 0;
        for (float f : v) mean += f;
        mean /= n;
        for (float f : v) var += (f - mean) * (f - mean);
        var /= n;
        for (int i = 0; i < n; i++) close((v[i] - mean) / Math.sqrt(var + 1e-5) * w[i] + b[i], ln[i], "layerNorm " + i);

        float[] e = v.clone(), s = v.clone(), t = v.clone();
        CpuKernels.exp(e, 0, n);
        CpuKernels.sigmoid(s, 0, n);
        CpuKernels.tanh(t, 0, n);
        for (int i = 0; i < n; i++) {
            close(Math.exp(v[i]), e[i], "exp " + i);
            close(1 / (1 + Math.exp(-v[i])), s[i], "sigmoid " + i);
            close(Math.tanh(v[i]), t[i], "tanh " + i);
        }
    }
}
