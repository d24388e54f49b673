package io.engram.model.ops;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Host-memory kernels for single-token decode on the CPU. Decode is memory-bound (every weight is read once per
 * token), and a plain Java Vector API loop streams weights about twice as fast as DJL's vector-matrix product
 * here, without a native call per operation. Uses {@code jdk.incubator.vector} when the JVM was started with
 * {@code --add-modules jdk.incubator.vector}, and scalar loops otherwise.
 */
public final class CpuKernels {

    /** Whether the Vector API module is present in this JVM. */
    public static final boolean VECTOR_API = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** Work below this many multiply-adds is not split across threads. */
    private static final int PARALLEL_THRESHOLD = 1 << 17;

    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, Runtime.getRuntime().availableProcessors()));

    private CpuKernels() {}

    /** Dot product of {@code a[ao, ao+n)} and {@code b[bo, bo+n)}. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        if (VECTOR_API) return VectorOps.dot(a, ao, b, bo, n);
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** {@code y[o] = sum_i W[o,i] x[i]} for {@code W [out,in]} row-major (an nn.Linear weight). */
    public static void matVec(float[] w, int out, int in, float[] x, float[] y) {
        if ((long) out * in < PARALLEL_THRESHOLD) {
            matVecRows(w, in, x, y, 0, out);
        } else {
            POOL.invoke(new Rows(w, in, x, y, 0, out));
        }
    }

    private static void matVecRows(float[] w, int in, float[] x, float[] y, int from, int to) {
        for (int o = from; o < to; o++) y[o] = dot(w, o * in, x, 0, in);
    }

    private static final class Rows extends RecursiveAction {
        private final float[] w, x, y;
        private final int in, from, to;

        Rows(float[] w, int in, float[] x, float[] y, int from, int to) {
            this.w = w; this.in = in; this.x = x; this.y = y; this.from = from; this.to = to;
        }

        @Override
        protected void compute() {
            if ((long) (to - from) * in <= PARALLEL_THRESHOLD || to - from < 16) {
                matVecRows(w, in, x, y, from, to);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new Rows(w, in, x, y, from, mid), new Rows(w, in, x, y, mid, to));
        }
    }

    /**
     * {@code ys[b][o] = sum_i W[o,i] xs[b][i]} for every row b of a batch: the {@code [B,in] x [in,out]} product of
     * batched decode. Each weight row is read from memory once for the whole batch.
     */
    public static void matMul(float[] w, int out, int in, float[][] xs, float[][] ys) {
        if (xs.length == 1) {
            matVec(w, out, in, xs[0], ys[0]);
            return;
        }
        if ((long) out * in * xs.length < PARALLEL_THRESHOLD) {
            matMulRows(w, in, xs, ys, 0, out);
        } else {
            POOL.invoke(new BatchRows(w, in, xs, ys, 0, out));
        }
    }

    private static void matMulRows(float[] w, int in, float[][] xs, float[][] ys, int from, int to) {
        int b = xs.length;
        for (int o = from; o < to; o++) {
            int row = o * in;
            int i = 0;
            for (; i + 4 <= b; i += 4) {
                if (VECTOR_API) {
                    VectorOps.dot4(w, row, xs[i], xs[i + 1], xs[i + 2], xs[i + 3], in, ys, i, o);
                } else {
                    for (int q = 0; q < 4; q++) ys[i + q][o] = dot(w, row, xs[i + q], 0, in);
                }
            }
            for (; i < b; i++) ys[i][o] = dot(w, row, xs[i], 0, in);
        }
    }

    private static final class BatchRows extends RecursiveAction {
        private final float[] w;
        private final float[][] xs, ys;
        private final int in, from, to;

        BatchRows(float[] w, int in, float[][] xs, float[][] ys, int from, int to) {
            this.w = w; this.in = in; this.xs = xs; this.ys = ys; this.from = from; this.to = to;
        }

        @Override
        protected void compute() {
            if ((long) (to - from) * in * xs.length <= PARALLEL_THRESHOLD || to - from < 16) {
                matMulRows(w, in, xs, ys, from, to);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new BatchRows(w, in, xs, ys, from, mid), new BatchRows(w, in, xs, ys, mid, to));
        }
    }

    /** {@code y[o] = sum_i x[i] M[i,o]} for {@code M [in,out]} row-major (a LoRA matrix applied as x @ M). */
    public static void vecMat(float[] x, float[] m, int in, int out, float[] y) {
        java.util.Arrays.fill(y, 0, out, 0f);
        for (int i = 0; i < in; i++) axpy(x[i], m, i * out, y, 0, out);
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
}
