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
 * <p>Layouts:
 * <ul>
 *   <li>float32: row-major, the rows as they are.</li>
 *   <li>bfloat16 and int8 pack each row into {@code int}s, in blocks of {@code h} ints ({@code h} = {@link #lanes},
 *       the float vector length), so that one int vector load gives whole float vectors by shifts and masks, with
 *       no lane shuffles:
 *       <ul>
 *         <li>bfloat16: a block is {@code 2h} columns; int {@code j} holds column {@code j} in its low half and
 *             column {@code h + j} in its high half ({@code w << 16} and {@code w & 0xFFFF0000}).</li>
 *         <li>int8: one signed byte per weight, {@code w = q * scale}, one float32 scale per {@link #group} columns
 *             (symmetric: {@code scale = max|w| / 127} over the group, round to nearest). A block is {@code 4h}
 *             columns in order: byte {@code k} (little-endian) of int {@code j} holds column {@code 4j + k}, so a
 *             quarter of a block ({@code h/4} ints) is {@code h} consecutive bytes, which one sign-extending
 *             conversion widens into a float vector (docs/PERFORMANCE.md, "int8 widened by conversion").</li>
 *       </ul>
 *       Rows are stored in tiles of four: block {@code b} of a tile is block {@code b} of its rows 0..3, one after
 *       the other. A kernel pass over four rows then reads one contiguous stream instead of four short ones, which
 *       the hardware prefetcher follows better (bf16 single-stream decode on an AVX2 machine, A/B: 42 -> 51-52
 *       tok/s; docs/PERFORMANCE.md, "Tiles of four rows"). The last block of a row and the last tile are
 *       zero-padded.</li>
 * </ul>
 *
 * <p>Storage: Java arrays (the default), or off the Java heap ({@link #build} with a {@link NativeMemory}): the same
 * layout in one native buffer, so a model larger than the heap can be served. The one-row kernels load from the
 * buffer directly, slower than from an array on JDK 17 (docs/PERFORMANCE.md, "Weights off the Java heap"); a
 * batched product widens each tile into an L1-sized array once, as for the heap formats. The int8 scales (one
 * float per {@link #group} weights) stay on the heap either way.
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
    /** bfloat16 and int8: ints per row in one block (the float vector length of this JVM). */
    public final int lanes;
    /** float32 values on the heap, or null. */
    final float[] f32;
    /** bfloat16 and int8: the tiles on the heap, or null. */
    final int[] words;
    /** Off-heap storage (native order), or null when the values are in the arrays; its float and int views. */
    final ByteBuffer data;
    private final FloatBuffer dataF32;
    private final IntBuffer dataInts;
    /** bfloat16 and int8: ints per row (whole blocks). int8: scales per row. */
    final int rowWords, groups;
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

    private ServedMatrix(ServeDtype dtype, int out, int in, int group, float[] f32, int[] words, float[] scales,
                         ByteBuffer data) {
        this.data = data == null ? null : data.order(ByteOrder.nativeOrder());
        this.dataF32 = data == null ? null : this.data.asFloatBuffer();
        this.dataInts = data == null ? null : this.data.asIntBuffer();
        this.dtype = dtype;
        this.out = out;
        this.in = in;
        this.group = group;
        this.lanes = dtype == ServeDtype.FLOAT32 ? 0 : lanes();
        this.f32 = f32;
        this.words = words;
        this.rowWords = rowWords(dtype, in);
        this.scales = scales;
        this.groups = dtype == ServeDtype.INT8 ? in / group : 0;
    }

    /** The float vector length of this JVM (8 without the Vector API): ints per row in a block. */
    private static int lanes() {
        return CpuKernels.VECTOR_API ? ServedVectorOps.floatLanes() : 8;
    }

    /** Columns per block: two per int in bfloat16, four in int8. */
    private static int blockColumns(ServeDtype dtype) {
        return (dtype == ServeDtype.INT8 ? 4 : 2) * lanes();
    }

    /** bfloat16 and int8: ints per row, {@code in} rounded up to whole blocks. */
    private static int rowWords(ServeDtype dtype, int in) {
        if (dtype == ServeDtype.FLOAT32) return 0;
        int b = blockColumns(dtype);
        return (in + b - 1) / b * lanes();
    }

    /** bfloat16 and int8: ints stored for {@code out} rows of {@code rowWords}, in whole tiles of four rows. */
    private static long tiledInts(int out, int rowWords) {
        return (long) ((out + 3) / 4) * 4 * rowWords;
    }

    /** bfloat16 and int8: the int where block {@code b} of row {@code o} starts (tile, block, row in the tile). */
    int blockAt(int o, int b) {
        return (o >> 2) * 4 * rowWords + b * 4 * lanes + (o & 3) * lanes;
    }

    /** The packed int at {@code at}, heap or off-heap. */
    private int word(int at) {
        return data != null ? dataInts.get(at) : words[at];
    }

    /**
     * A {@code [out, in]} matrix in {@code dtype}, converted one row at a time from {@code src} (no float32 copy of
     * the whole matrix is ever made): on the heap when {@code memory} is null, otherwise in one buffer from
     * {@code memory}. int8 groups as in {@link #of}.
     */
    public static ServedMatrix build(Rows src, int out, int in, ServeDtype dtype, NativeMemory memory) {
        return build(src, out, in, dtype, INT8_GROUP > 0 && in % INT8_GROUP == 0 ? INT8_GROUP : in, memory);
    }

    private static ServedMatrix build(Rows src, int out, int in, ServeDtype dtype, int group, NativeMemory memory) {
        int h = lanes(), rowWords = rowWords(dtype, in);
        long bytes = dtype == ServeDtype.FLOAT32 ? 4L * out * in : 4L * tiledInts(out, rowWords);
        if (bytes > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("matrix [" + out + "," + in + "] in " + dtype + " is " + bytes
                    + " bytes, more than one buffer holds (2 GiB)");
        }
        ByteBuffer buf = memory == null ? null : memory.allocate((int) bytes).order(ByteOrder.nativeOrder());
        float[] f32 = memory == null && dtype == ServeDtype.FLOAT32 ? new float[out * in] : null;
        int[] words = memory == null && dtype != ServeDtype.FLOAT32 ? new int[(int) (bytes / 4)] : null;
        float[] scales = dtype == ServeDtype.INT8 ? new float[out * (in / group)] : null;
        FloatBuffer fb = buf == null ? null : buf.asFloatBuffer();
        IntBuffer ib = buf == null ? null : buf.asIntBuffer();
        float[] row = new float[in];
        int[] packed = new int[rowWords];
        byte[] q = new byte[in];
        ServedMatrix m = new ServedMatrix(dtype, out, in, group, f32, words, scales, buf);
        for (int o = 0; o < out; o++) {
            src.row(o, row);
            if (dtype == ServeDtype.FLOAT32) {
                if (f32 != null) System.arraycopy(row, 0, f32, o * in, in);
                else fb.put(o * in, row);
                continue;
            }
            if (dtype == ServeDtype.BFLOAT16) {
                packBf16(row, in, h, packed);
            } else {
                quantize(row, 0, in, group, q, 0, scales, o * (in / group));
                packInt8(q, in, h, packed);
            }
            for (int b = 0; b < rowWords / h; b++) {                 // the row's blocks, each to its place in the tile
                if (words != null) System.arraycopy(packed, b * h, words, m.blockAt(o, b), h);
                else ib.put(m.blockAt(o, b), packed, b * h, h);
            }
        }
        return m;
    }

    /** One row in the bf16 packing, block after block: column {@code j} of a block low, {@code h + j} high. */
    private static void packBf16(float[] row, int in, int h, int[] words) {
        java.util.Arrays.fill(words, 0);
        for (int i = 0; i < in; i++) {
            int b = i / (2 * h), j = i % (2 * h);
            int v = toBf16(row[i]) & 0xFFFF;
            words[b * h + (j % h)] |= j < h ? v : v << 16;
        }
    }

    /** One int8 row in its packing: the bytes in column order, four to an int, the first in the low byte. */
    private static void packInt8(byte[] q, int in, int h, int[] words) {
        java.util.Arrays.fill(words, 0);
        for (int i = 0; i < in; i++) words[i >> 2] |= (q[i] & 0xFF) << (8 * (i & 3));
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
        return new ServedMatrix(ServeDtype.FLOAT32, out, in, in, w, null, null, null);
    }

    public static ServedMatrix bfloat16(float[] w, int out, int in) {
        return of(w, out, in, ServeDtype.BFLOAT16);
    }

    /** Symmetric int8 with one scale per {@code group} columns ({@code group == in}: per row). */
    public static ServedMatrix int8(float[] w, int out, int in, int group) {
        check(w, out, in);
        if (group <= 0 || in % group != 0) throw new IllegalArgumentException("int8 group " + group + " must divide " + in);
        return build(rowsOf(w, in), out, in, ServeDtype.INT8, group, null);
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
                int h = lanes, b = i / (2 * h), j = i - b * 2 * h, word = word(blockAt(o, b) + j % h);
                yield Float.intBitsToFloat(j < h ? word << 16 : word & 0xFFFF0000);
            }
            case INT8 -> {
                int h = lanes, b = i / (4 * h), c = i - b * 4 * h;
                yield (byte) (word(blockAt(o, b) + (c >> 2)) >> (8 * (c & 3))) * scales[o * groups + i / group];
            }
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
            default -> {
                for (int i = 0; i < in; i++) dst[at + i] = get(o, i);
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
            case BFLOAT16 -> 4L * tiledInts(out, rowWords);
            case INT8 -> 4L * tiledInts(out, rowWords) + 4L * scales.length;
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
