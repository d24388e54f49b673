package io.engram.model.ops;

import io.engram.weights.ServeDtype;

/**
 * {@link CpuKernels#matVecs} for weights in a served format ({@link ServedMatrix}): {@code y = x W^T} for a few
 * input rows, every weight row read once for all of them. One row: the format is widened in registers inside the
 * dot products (bf16 by a mask and a shift, int8 by shifts and an int-to-float conversion, one scale per group), four
 * weight rows at a time from their tile ({@link ServedMatrix}: one contiguous stream per pass). Several
 * rows (batched decode): each tile of four weight rows is widened once into an L1-sized float buffer and then
 * multiplied by every input row, so the memory traffic stays one read of the quantized matrix per step. Weights
 * off the Java heap run the same loops with vector loads from their buffer (slower than from an array on JDK 17,
 * see docs/PERFORMANCE.md); a float32 one off the heap with several rows takes the block path, copied into L1.
 */
public final class ServedKernels {

    /** Weight rows widened at once for a batched product. */
    private static final int BLOCK_ROWS = 4;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Bytes of weights in one block of a one-row product ({@code -Dengram.cpu.block-bytes}): each block is one
     * sequential read, and the two threads of a team take neighbouring blocks. At 32 rows per block, whatever the
     * format, an int8 block was 24 KB and the int8 head product [65536,768] took 2.8 ms; blocks of 192 KB to
     * 1.5 MB read it in 1.2-1.5 ms (docs/PERFORMANCE.md, "One-row blocks sized in bytes").
     */
    static final int BLOCK_BYTES = Integer.getInteger("engram.cpu.block-bytes", 384 * 1024);

    private ServedKernels() {}

    /** One product: {@code y[yo + r*out ..] = W x[xo + r*in ..]} for input rows {@code r < rows}. */
    public record Job(ServedMatrix w, float[] x, int xo, float[] y, int yo, int rows) {}

    /** Several independent products in one parallel pass of the {@link CpuTeam}, like {@link CpuKernels#matVecs}. */
    public static void matVecs(Job... jobs) {
        int total = 0, widest = 1;
        for (Job j : jobs) {
            total += j.w().out;
            widest = Math.max(widest, j.w().in);
        }
        int grain = jobs.length > 0 && jobs[0].rows() == 1 ? oneRowGrain(jobs, total) : Math.max(4, 32 * 768 / widest / 4 * 4);
        CpuTeam.forRange(total, grain, (from, to) -> {
            int base = 0;
            for (Job j : jobs) {
                int lo = Math.max(from, base), hi = Math.min(to, base + j.w().out);
                if (lo < hi) rows(j, lo - base, hi - base);
                base += j.w().out;
            }
        });
    }

    /**
     * Rows per block of a one-row pass: {@link #BLOCK_BYTES} of the widest-stored row, but at least four blocks per
     * thread so that the team stays balanced on small products (a multiple of 4: one tile).
     */
    static int oneRowGrain(Job[] jobs, int total) {
        long rowBytes = 1;
        for (Job j : jobs) rowBytes = Math.max(rowBytes, j.w().bytes() / Math.max(1, j.w().out));
        long byBytes = BLOCK_BYTES / rowBytes;
        long balanced = total / (4L * CpuTeam.THREADS);
        return (int) Math.max(4, Math.min(byBytes, balanced) / 4 * 4);
    }

    /** Weight rows {@code [from, to)} of one product. */
    static void rows(Job j, int from, int to) {
        ServedMatrix w = j.w();
        if (w.dtype == ServeDtype.FLOAT32 && !w.offHeap()) {
            if (CpuKernels.VECTOR_API) {
                VectorOps.matVecRows(w.f32, w.out, w.in, j.x(), j.xo(), j.y(), j.yo(), j.rows(), from, to);
            } else {
                for (int o = from; o < to; o++) {
                    for (int r = 0; r < j.rows(); r++) {
                        j.y()[j.yo() + r * w.out + o] = CpuKernels.dot(w.f32, o * w.in, j.x(), j.xo() + r * w.in, w.in);
                    }
                }
            }
            return;
        }
        if (j.rows() == 1 && CpuKernels.VECTOR_API) {
            switch (w.dtype) {
                case FLOAT32 -> ServedVectorOps.f32OffHeapRows(w, j.x(), j.xo(), j.y(), j.yo(), from, to);
                case BFLOAT16 -> ServedVectorOps.bf16Rows(w, j.x(), j.xo(), j.y(), j.yo(), from, to);
                case INT8 -> ServedVectorOps.int8Rows(w, j.x(), j.xo(), j.y(), j.yo(), from, to);
            }
            return;
        }
        float[] buf = SCRATCH.get();
        if (buf.length < BLOCK_ROWS * w.in) SCRATCH.set(buf = new float[BLOCK_ROWS * w.in]);
        for (int o = from; o < to; o += BLOCK_ROWS) {
            int n = Math.min(BLOCK_ROWS, to - o);
            boolean tile = n == 4 && (o & 3) == 0 && CpuKernels.VECTOR_API && ServedVectorOps.widenTile(w, o, buf);
            for (int k = 0; !tile && k < n; k++) {
                w.widenRow(o + k, buf, k * w.in);
            }
            if (CpuKernels.VECTOR_API) {
                // the block as a [n, in] matrix whose row k is weight row o + k: y columns [o, o+n)
                ServedVectorOps.f32Block(buf, n, w.in, j.x(), j.xo(), j.y(), j.yo() + o, w.out, j.rows());
            } else {
                for (int k = 0; k < n; k++) {
                    for (int r = 0; r < j.rows(); r++) {
                        j.y()[j.yo() + r * w.out + o + k] = CpuKernels.dot(buf, k * w.in, j.x(), j.xo() + r * w.in, w.in);
                    }
                }
            }
        }
    }
}
