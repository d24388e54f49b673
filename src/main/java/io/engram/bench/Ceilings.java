package io.engram.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.engram.model.ops.CpuKernels;
import java.util.ArrayList;
import java.util.List;

/**
 * The two hardware ceilings the benchmark's figures are bounded by, measured in the same run (on a shared
 * machine they move with the neighbours' load): the read bandwidth of the decode kernel (single-token decode
 * streams every weight once per token) and the throughput of DJL's matrix product (priming is that product).
 */
final class Ceilings {

    private Ceilings() {}

    /** GB/s of {@link CpuKernels#matVec} over a 512 MB matrix, far larger than the caches: median of {@code runs}. */
    static double decodeKernelGbps(int runs) {
        int rows = 1 << 17, cols = 1 << 10;                   // 128 Mi floats = 512 MB
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i += 1024) w[i] = 1f;   // touch every page
        float[] x = new float[cols], y = new float[rows];
        List<Double> gbps = new ArrayList<>();
        for (int r = 0; r <= runs; r++) {
            long t0 = System.nanoTime();
            CpuKernels.matVec(w, rows, cols, x, y);
            double s = (System.nanoTime() - t0) / 1e9;
            if (r > 0) gbps.add(4.0 * w.length / s / 1e9);
        }
        return Benchmark.median(gbps);
    }

    /**
     * Milliseconds of one vocabulary-head product ({@code [65536,768]}, one input row) in each served format,
     * the formats alternated run by run so that a neighbour's load falls on all of them alike: median of
     * {@code runs} per format. The ratio between formats is what fewer bytes per weight buys at this bandwidth.
     */
    static java.util.Map<io.engram.weights.ServeDtype, Double> servedHeadMs(int runs) {
        int out = 65536, in = 768;
        java.util.Random rnd = new java.util.Random(5);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian() * 0.02f;
        float[] x = new float[in], y = new float[out];
        for (int i = 0; i < in; i++) x[i] = (float) rnd.nextGaussian();
        java.util.Map<io.engram.weights.ServeDtype, io.engram.model.ops.ServedMatrix> ms = new java.util.LinkedHashMap<>();
        for (io.engram.weights.ServeDtype d : io.engram.weights.ServeDtype.values()) {
            ms.put(d, io.engram.model.ops.ServedMatrix.of(w, out, in, d));
        }
        java.util.Map<io.engram.weights.ServeDtype, List<Double>> t = new java.util.LinkedHashMap<>();
        for (int r = 0; r <= runs * 4; r++) {
            for (var e : ms.entrySet()) {
                long t0 = System.nanoTime();
                io.engram.model.ops.ServedKernels.matVecs(new io.engram.model.ops.ServedKernels.Job(e.getValue(), x, 0, y, 0, 1));
                double msec = (System.nanoTime() - t0) / 1e6;
                if (r >= runs) t.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(msec);   // the first runs warm up
            }
        }
        java.util.Map<io.engram.weights.ServeDtype, Double> med = new java.util.LinkedHashMap<>();
        t.forEach((d, v) -> med.put(d, Benchmark.median(v)));
        return med;
    }

    /** GFLOP/s of a DJL {@code [t,in] x [in,out]} product (one projection of a priming chunk): median of {@code runs}. */
    static double djlGemmGflops(int t, int in, int out, int runs) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.randomUniform(-1f, 1f, new Shape(in, out));
            NDArray x = m.randomUniform(-1f, 1f, new Shape(t, in));
            List<Double> gflops = new ArrayList<>();
            for (int r = 0; r <= runs; r++) {
                int reps = 10;
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    try (NDManager sm = m.newSubManager()) {
                        sm.from(x).matMul(w);
                    }
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (r > 0) gflops.add(2.0 * t * in * out * reps / s / 1e9);
            }
            return Benchmark.median(gflops);
        }
    }
}
