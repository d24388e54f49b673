package io.engram.model.ops;

/**
 * Host-memory kernels for the CPU path. Single-token decode is memory-bound (every weight is read once per
 * token), and a plain Java Vector API loop streams weights about twice as fast as DJL's vector-matrix product
 * here, without a native call per operation. Uses {@code jdk.incubator.vector} when the JVM was started with
 * {@code --add-modules jdk.incubator.vector}, and scalar loops otherwise. Products are split across the
 * {@link CpuTeam}.
 */
public final class CpuKernels {

    /** Whether the Vector API module is present in this JVM. */
    public static final boolean VECTOR_API = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /**
     * Whether the batched products use the four-by-four register tile (AVX-512: 32 vector registers). With it the
     * Java kernels outrun libtorch's GEMM on a whole 256-token chunk on the 2-core development machine (priming
     * 748-778 against 433-521 tok/s, docs/PERFORMANCE.md), so the CPU path multiplies chunks in Java too.
     */
    public static final boolean WIDE_TILES = VECTOR_API && VectorOps.TILE_4X4;

    /** Columns per block when {@link #vecMat} splits its output across the team. */
    private static final int COLUMN_GRAIN = 128;
    /**
     * Weights per block when a product is split across the team (96 KB, 32 rows of 768): large enough for the
     * prefetchers to stream, small enough that the last block finishes soon after the others.
     */
    private static final int GRAIN_FLOATS = 32 * 768;

    private CpuKernels() {}

    /**
     * One product of a batch run by {@link #matVecs}: {@code y = x W^T} for {@code W [out,in]} (an nn.Linear
     * weight), {@code x [rows,in]} at offset {@code xo} and {@code y [rows,out]} at offset {@code yo}.
     */
    public record MatVec(float[] w, int out, int in, float[] x, int xo, float[] y, int yo, int rows) {

        public MatVec(float[] w, int out, int in, float[] x, float[] y) {
            this(w, out, in, x, 0, y, 0, 1);
        }
    }

    /** Dot product of {@code a[ao, ao+n)} and {@code b[bo, bo+n)}. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        if (VECTOR_API) return VectorOps.dot(a, ao, b, bo, n);
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** {@code y[o] = sum_i W[o,i] x[i]} for {@code W [out,in]} row-major (an nn.Linear weight): one row, at offset 0. */
    public static void matVec(float[] w, int out, int in, float[] x, float[] y) {
        matVecs(new MatVec(w, out, in, x, y));
    }

    /**
     * Several independent products in one parallel pass: the rows of all of them, taken in order, are split into
     * one contiguous range per thread. Decode batches the products that share an input stage this way
     * (r, k, v and the LoRA down-projections) so that the team is woken once instead of seven times.
     */
    public static void matVecs(MatVec... jobs) {
        int total = 0, widest = 1;
        for (MatVec j : jobs) {
            total += j.out();
            widest = Math.max(widest, j.in());
        }
        int grain = Math.max(4, GRAIN_FLOATS / widest / 4 * 4);
        CpuTeam.forRange(total, grain, (from, to) -> {
            int base = 0;
            for (MatVec j : jobs) {
                int lo = Math.max(from, base), hi = Math.min(to, base + j.out());
                if (lo < hi) matVecRows(j, lo - base, hi - base);
                base += j.out();
            }
        });
    }

    /** Weight rows {@code [from, to)} of one product, for all its input rows (each weight row is read once). */
    private static void matVecRows(MatVec j, int from, int to) {
        if (VECTOR_API) {
            VectorOps.matVecRows(j.w(), j.out(), j.in(), j.x(), j.xo(), j.y(), j.yo(), j.rows(), from, to);
            return;
        }
        for (int o = from; o < to; o++) {
            for (int r = 0; r < j.rows(); r++) {
                j.y()[j.yo() + r * j.out() + o] = dot(j.w(), o * j.in(), j.x(), j.xo() + r * j.in(), j.in());
            }
        }
    }

    /** {@code y[o] = sum_i x[i] M[i,o]} for {@code M [in,out]} row-major (a LoRA matrix applied as x @ M). */
    public static void vecMat(float[] x, float[] m, int in, int out, float[] y) {
        vecMat(x, 0, m, in, out, y, 0);
    }

    /** {@link #vecMat(float[], float[], int, int, float[])} at offsets, with the output columns split across the team. */
    public static void vecMat(float[] x, int xo, float[] m, int in, int out, float[] y, int yo) {
        CpuTeam.forRange(out, COLUMN_GRAIN, (from, to) -> vecMatColumns(x, xo, m, in, out, y, yo, from, to));
    }

    /** Columns {@code [from, to)} of {@code x @ M}. */
    public static void vecMatColumns(float[] x, int xo, float[] m, int in, int out, float[] y, int yo, int from, int to) {
        java.util.Arrays.fill(y, yo + from, yo + to, 0f);
        for (int i = 0; i < in; i++) axpy(x[xo + i], m, i * out + from, y, yo + from, to - from);
    }

    /**
     * Columns {@code [from, to)} of {@code X @ M} for {@code rows} input rows at once: {@code y[yo + r*out + o] =
     * sum_i x[xo + r*in + i] M[i,o]} for {@code M [in,out]} row-major (the LoRA up-projections of a batched step).
     * Each slice of M is loaded once for four input rows and the sums stay in registers; every output accumulates
     * in the same order as {@link #vecMatColumns} row by row, so the results are bit-identical to it.
     */
    public static void vecMatRowsColumns(float[] x, int xo, int rows, float[] m, int in, int out, float[] y, int yo,
                                         int from, int to) {
        if (VECTOR_API) {
            VectorOps.vecMatRowsColumns(x, xo, rows, m, in, out, y, yo, from, to);
            return;
        }
        for (int r = 0; r < rows; r++) vecMatColumns(x, xo + r * in, m, in, out, y, yo + r * out, from, to);
    }

    /** {@code y[yo..] += a * x[xo..]} over n elements. */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        if (VECTOR_API) {
            VectorOps.axpy(a, x, xo, y, yo, n);
            return;
        }
        for (int i = 0; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    /** LayerNorm of x[xo, xo+n) into out[oo..]: {@code (x-mean)/sqrt(var+eps) * w + b} (biased variance). */
    public static void layerNorm(float[] x, int xo, int n, float[] w, int wo, float[] b, int bo, float eps,
                                 float[] out, int oo) {
        if (VECTOR_API) {
            VectorOps.layerNorm(x, xo, n, w, wo, b, bo, eps, out, oo);
            return;
        }
        double mean = 0;
        for (int i = 0; i < n; i++) mean += x[xo + i];
        mean /= n;
        double var = 0;
        for (int i = 0; i < n; i++) {
            double d = x[xo + i] - mean;
            var += d * d;
        }
        var /= n;
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        float m = (float) mean;
        for (int i = 0; i < n; i++) out[oo + i] = (x[xo + i] - m) * inv * w[wo + i] + b[bo + i];
    }

    public static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    /** {@code x = 1 / (1 + e^-x)} over {@code x[o, o+n)}. */
    public static void sigmoid(float[] x, int o, int n) {
        if (VECTOR_API) {
            VectorOps.sigmoid(x, o, n);
            return;
        }
        for (int i = o; i < o + n; i++) x[i] = sigmoid(x[i]);
    }

    /** {@code x = tanh(x)} over {@code x[o, o+n)}. */
    public static void tanh(float[] x, int o, int n) {
        if (VECTOR_API) {
            VectorOps.tanh(x, o, n);
            return;
        }
        for (int i = o; i < o + n; i++) x[i] = (float) Math.tanh(x[i]);
    }

    /** {@code x = e^x} over {@code x[o, o+n)}. */
    public static void exp(float[] x, int o, int n) {
        if (VECTOR_API) {
            VectorOps.exp(x, o, n);
            return;
        }
        for (int i = o; i < o + n; i++) x[i] = (float) Math.exp(x[i]);
    }
}
