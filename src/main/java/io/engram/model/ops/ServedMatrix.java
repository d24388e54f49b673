package io.engram.model.ops;

import io.engram.weights.ServeDtype;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;

/**
 * An {@code nn.Linear} weight {@code [out, in]} (y = x W^T) in the format the decode kernels read
 * ({@link ServeDtype}); {@link ServedKernels} multiplies by it without widening it in memory.
 *
 * <p>Layouts, per row:
 * <ul>
 *   <li>float32: the row as is.</li>
 *   <li>bfloat16: two bf16 values per {@code int}, in blocks of {@code 2h} columns ({@code h} = {@link #half}):
 *       word {@code j} of a block holds column {@code j} in its low half and column {@code h + j} in its high
 *       half, so one int load gives two float vectors by a mask ({@code w & 0xFFFF0000}) and a shift
 *       ({@code w << 16}) with no lane shuffles. The last block is zero-padded.</li>
 *   <li>int8: one signed byte per weight, {@code w = q * scale}, one float32 scale per {@link #group} columns
 *       (symmetric: {@code scale = max|w| / 127} over the group, round to nearest).</li>
 * </ul>
 *
 * <p>Storage: Java arrays (the default), or off the Java heap ({@link #build} with a {@link NativeMemory}): the same
 * layout in one native buffer, so a model larger than the heap can be served. The one-row kernels load from the
 * buffer directly, slower than from an array on JDK 17 (docs/PERFORMANCE.md, "Weights off the Java heap"); a
 * batched product widens each block of rows into an L1-sized array once, as for the heap formats. The int8
 * scales (one float per {@link #group} weights) stay on the heap either way.
 */
public final class ServedMatrix {

    /**
     * Columns per int8 scale: {@link ServeDtype#INT8_GROUP}; {@code -Dengram.int8.group=0} means one scale per row
     * (a measurement knob for docs/PERFORMANCE.md, not a setting).
     */
    static final int INT8_GROUP = Integer.getInteger("engram.int8.group", ServeDtype.INT8_GROUP);

    public final ServeDtype dtype;
    public final int out, in;
    /** int8: columns per scale. */
    public final int group;
    /** bfloat16: columns per half-block (the float vector length of this JVM, so a block is one pair of vectors). */
    public final int half;
    final float[] f32;
    final int[] bf16;
    /** Off-heap storage (native order), or null when the values are in the arrays; its float and int views. */
    final ByteBuffer data;
    private final FloatBuffer dataF32;
    private final IntBuffer dataInts;
    /** bfloat16: ints per row. int8: scales per row. */
    final int rowWords, groups;
    final byte[] q8;
    final float[] scales;

    /** Row {@code o} of a matrix as float32 into {@code dst[0, in)}: where {@link #build} takes its values from. */
    @FunctionalInterface
    public interface Rows {
        void row(int o, float[] dst);
    }

    /** Native memory for off-heap matrices: a writable direct buffer of exactly {@code bytes} bytes. */
    @FunctionalInterface
    public interface NativeMemory {
        ByteBuffer allocate(int bytes);
    }

    /** {@link ByteBuffer#allocateDirect}: counted against {@code -XX:MaxDirectMemorySize} (by default the heap size). */
    public static final NativeMemory DIRECT = ByteBuffer::allocateDirect;

    private ServedMatrix(ServeDtype dtype, int out, int in, int group, int half, float[] f32, int[] bf16,
                         int rowWords, byte[] q8, float[] scales, int groups) {
        this(dtype, out, in, group, half, f32, bf16, rowWords, q8, scales, groups, null);
    }

    private ServedMatrix(ServeDtype dtype, int out, int in, int group, int half, float[] f32, int[] bf16,
                         int rowWords, byte[] q8, float[] scales, int groups, ByteBuffer data) {
        this.data = data == null ? null : data.order(ByteOrder.nativeOrder());
        this.dataF32 = data == null ? null : this.data.asFloatBuffer();
        this.dataInts = data == null ? null : this.data.asIntBuffer();
        this.dtype = dtype;
        this.out = out;
        this.in = in;
        this.group = group;
        this.half = half;
        this.f32 = f32;
        this.bf16 = bf16;
        this.rowWords = rowWords;
        this.q8 = q8;
        this.scales = scales;
        this.groups = groups;
    }

    /**
     * A {@code [out, in]} matrix in {@code dtype}, converted one row at a time from {@code src} (no float32 copy of
     * the whole matrix is ever made): on the heap when {@code memory} is null, otherwise in one buffer from
     * {@code memory}. int8 groups as in {@link #of}.
     */
    public static ServedMatrix build(Rows src, int out, int in, ServeDtype dtype, NativeMemory memory) {
        int h = CpuKernels.VECTOR_API ? ServedVectorOps.floatLanes() : 8;
        int words = (in + 2 * h - 1) / (2 * h) * h;
        int group = INT8_GROUP > 0 && in % INT8_GROUP == 0 ? INT8_GROUP : in, groups = in / group;
        long bytes = switch (dtype) {
            case FLOAT32 -> 4L * out * in;
            case BFLOAT16 -> 4L * out * words;
            case INT8 -> (long) out * in;
        };
        if (bytes > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("matrix [" + out + "," + in + "] in " + dtype + " is " + bytes
                    + " bytes, more than one buffer holds (2 GiB)");
        }
        ByteBuffer buf = memory == null ? null : memory.allocate((int) bytes).order(ByteOrder.nativeOrder());
        float[] f32 = memory == null && dtype == ServeDtype.FLOAT32 ? new float[out * in] : null;
        int[] bf16 = memory == null && dtype == ServeDtype.BFLOAT16 ? new int[out * words] : null;
        byte[] q8 = memory == null && dtype == ServeDtype.INT8 ? new byte[out * in] : null;
        float[] scales = dtype == ServeDtype.INT8 ? new float[out * groups] : null;
        FloatBuffer fb = buf == null ? null : buf.asFloatBuffer();
        IntBuffer ib = buf == null ? null : buf.asIntBuffer();
        float[] row = new float[in];
        int[] packed = new int[words];
        byte[] q = new byte[in];
        for (int o = 0; o < out; o++) {
            src.row(o, row);
            switch (dtype) {
                case FLOAT32 -> {
                    if (f32 != null) System.arraycopy(row, 0, f32, o * in, in);
                    else fb.put(o * in, row);
                }
                case BFLOAT16 -> {
                    packBf16(row, in, h, packed);
                    if (bf16 != null) System.arraycopy(packed, 0, bf16, o * words, words);
                    else ib.put(o * words, packed);
                }
                case INT8 -> {
                    quantize(row, 0, in, group, q, 0, scales, o * groups);
                    if (q8 != null) System.arraycopy(q, 0, q8, o * in, in);
                    else buf.put(o * in, q);
                }
            }
        }
        return switch (dtype) {
            case FLOAT32 -> new ServedMatrix(dtype, out, in, in, 0, f32, null, 0, null, null, 0, buf);
            case BFLOAT16 -> new ServedMatrix(dtype, out, in, in, h, null, bf16, words, null, null, 0, buf);
            case INT8 -> new ServedMatrix(dtype, out, in, group, 0, null, null, 0, q8, scales, groups, buf);
        };
    }

    /** One row in the bf16 layout: {@code words} ints, column {@code j} of a block low, {@code h + j} high. */
    private static void packBf16(float[] row, int in, int h, int[] words) {
        java.util.Arrays.fill(words, 0);
        for (int i = 0; i < in; i++) {
            int b = i / (2 * h), j = i % (2 * h);
            int v = toBf16(row[i]) & 0xFFFF;
            words[b * h + (j % h)] |= j < h ? v : v << 16;
        }
    }

    /** int8 of {@code w[from, from+n)} in groups of {@code group} into {@code q[qo..]} and {@code s[so..]}. */
    private static void quantize(float[] w, int from, int n, int group, byte[] q, int qo, float[] s, int so) {
        for (int g = 0; g < n / group; g++) {
            int at = from + g * group;
            float max = 0f;
            for (int i = 0; i < group; i++) max = Math.max(max, Math.abs(w[at + i]));
            float scale = max / 127f;
            s[so + g] = scale;
            float inv = scale == 0f ? 0f : 1f / scale;
            for (int i = 0; i < group; i++) {
                q[qo + g * group + i] = (byte) Math.max(-127, Math.min(127, Math.round(w[at + i] * inv)));
            }
        }
    }

    /** {@code w [out, in]} in {@code dtype}; int8 uses groups of {@link ServeDtype#INT8_GROUP} (per row if {@code in} is not a multiple). */
    public static ServedMatrix of(float[] w, int out, int in, ServeDtype dtype) {
        if (dtype == ServeDtype.FLOAT32) return float32(w, out, in);
        check(w, out, in);
        return build(rowsOf(w, in), out, in, dtype, null);
    }

    /** Wraps {@code w} (not copied). */
    public static ServedMatrix float32(float[] w, int out, int in) {
        check(w, out, in);
        return new ServedMatrix(ServeDtype.FLOAT32, out, in, in, 0, w, null, 0, null, null, 0);
    }

    public static ServedMatrix bfloat16(float[] w, int out, int in) {
        return of(w, out, in, ServeDtype.BFLOAT16);
    }

    /** Symmetric int8 with one scale per {@code group} columns ({@code group == in}: per row). */
    public static ServedMatrix int8(float[] w, int out, int in, int group) {
        check(w, out, in);
        if (group <= 0 || in % group != 0) throw new IllegalArgumentException("int8 group " + group + " must divide " + in);
        int groups = in / group;
        byte[] q = new byte[out * in];
        float[] s = new float[out * groups];
        for (int o = 0; o < out; o++) quantize(w, o * in, in, group, q, o * in, s, o * groups);
        return new ServedMatrix(ServeDtype.INT8, out, in, group, 0, null, null, 0, q, s, groups);
    }

    /** Rows of a row-major {@code [out, in]} array. */
    private static Rows rowsOf(float[] w, int in) {
        return (o, dst) -> System.arraycopy(w, o * in, dst, 0, in);
    }

    /** float32 to bfloat16 bits, round to nearest even (NaN stays NaN). */
    public static short toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((b >>> 16) | 0x40);
        return (short) ((b + 0x7FFF + ((b >>> 16) & 1)) >>> 16);
    }

    /** The weight at {@code [o, i]} as the kernels see it. */
    public float get(int o, int i) {
        return switch (dtype) {
            case FLOAT32 -> data != null ? dataF32.get(o * in + i) : f32[o * in + i];
            case BFLOAT16 -> {
                int b = i / (2 * half), j = i % (2 * half), at = o * rowWords + b * half + (j % half);
                int word = data != null ? dataInts.get(at) : bf16[at];
                yield Float.intBitsToFloat(j < half ? word << 16 : word & 0xFFFF0000);
            }
            case INT8 -> (data != null ? data.get(o * in + i) : q8[o * in + i]) * scales[o * groups + i / group];
        };
    }

    /** Row {@code o} as float32 into {@code dst[at, at+in)}, widened in registers where the format allows. */
    public void widenRow(int o, float[] dst, int at) {
        if (!CpuKernels.VECTOR_API || !ServedVectorOps.widenRow(this, o, dst, at)) rowInto(o, dst, at);
    }

    /**
     * Rows {@code [from, to)} as float32 into {@code dst}, row-major {@code [out, in]} (row {@code o} at
     * {@code o * in}): what priming's GEMMs read. {@code tmp} holds one row.
     */
    public void widenRows(int from, int to, FloatBuffer dst, float[] tmp) {
        for (int o = from; o < to; o++) {
            if (dtype == ServeDtype.FLOAT32 && data == null) {
                dst.put(o * in, f32, o * in, in);
            } else {
                widenRow(o, tmp, 0);
                dst.put(o * in, tmp, 0, in);
            }
        }
    }

    /** Row {@code o} as float32 into {@code dst[at, at+in)}. */
    void rowInto(int o, float[] dst, int at) {
        switch (dtype) {
            case FLOAT32 -> {
                if (data != null) dataF32.get(o * in, dst, at, in);
                else System.arraycopy(f32, o * in, dst, at, in);
            }
            case BFLOAT16 -> {
                int base = o * rowWords, h = half;
                for (int i = 0; i < in; i++) {
                    int b = i / (2 * h), j = i - b * 2 * h, w = base + b * h + (j % h);
                    int word = data != null ? dataInts.get(w) : bf16[w];
                    dst[at + i] = Float.intBitsToFloat(j < h ? word << 16 : word & 0xFFFF0000);
                }
            }
            case INT8 -> {
                int base = o * in, sb = o * groups;
                for (int g = 0; g < groups; g++) {
                    float s = scales[sb + g];
                    for (int i = g * group; i < (g + 1) * group; i++) {
                        dst[at + i] = (data != null ? data.get(base + i) : q8[base + i]) * s;
                    }
                }
            }
        }
    }

    /** The whole matrix as float32 (tests, and the error measurements). */
    public float[] dequantize() {
        float[] d = new float[out * in];
        for (int o = 0; o < out; o++) rowInto(o, d, o * in);
        return d;
    }

    /** Bytes the kernels read per product (what decode bandwidth is spent on). */
    public long bytes() {
        return switch (dtype) {
            case FLOAT32 -> 4L * out * in;
            case BFLOAT16 -> 4L * out * rowWords;
            case INT8 -> (long) out * in + 4L * scales.length;
        };
    }

    /** Whether the values live off the Java heap. */
    public boolean offHeap() {
        return data != null;
    }

    /** The off-heap float32 values, row-major {@code [out, in]} (for libtorch to read in place), or null. */
    public ByteBuffer float32Buffer() {
        return dtype == ServeDtype.FLOAT32 && data != null ? data.duplicate().order(ByteOrder.nativeOrder()) : null;
    }

    private static void check(float[] w, int out, int in) {
        if (w.length != (long) out * in) throw new IllegalArgumentException("matrix of " + w.length + " values is not [" + out + "," + in + "]");
    }
}
