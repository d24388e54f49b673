package io.engram.model.ops;

import io.engram.weights.ServeDtype;

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
    /** bfloat16: ints per row. int8: scales per row. */
    final int rowWords, groups;
    final byte[] q8;
    final float[] scales;

    private ServedMatrix(ServeDtype dtype, int out, int in, int group, int half, float[] f32, int[] bf16,
                         int rowWords, byte[] q8, float[] scales, int groups) {
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

    /** {@code w [out, in]} in {@code dtype}; int8 uses groups of {@link ServeDtype#INT8_GROUP} (per row if {@code in} is not a multiple). */
    public static ServedMatrix of(float[] w, int out, int in, ServeDtype dtype) {
        return switch (dtype) {
            case FLOAT32 -> float32(w, out, in);
            case BFLOAT16 -> bfloat16(w, out, in);
            case INT8 -> int8(w, out, in, INT8_GROUP > 0 && in % INT8_GROUP == 0 ? INT8_GROUP : in);
        };
    }

    /** Wraps {@code w} (not copied). */
    public static ServedMatrix float32(float[] w, int out, int in) {
        check(w, out, in);
        return new ServedMatrix(ServeDtype.FLOAT32, out, in, in, 0, w, null, 0, null, null, 0);
    }

    public static ServedMatrix bfloat16(float[] w, int out, int in) {
        check(w, out, in);
        int h = CpuKernels.VECTOR_API ? ServedVectorOps.floatLanes() : 8;
        int blocks = (in + 2 * h - 1) / (2 * h), words = blocks * h;
        int[] p = new int[out * words];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                int b = i / (2 * h), j = i % (2 * h);
                int at = o * words + b * h + (j % h);
                int v = toBf16(w[o * in + i]) & 0xFFFF;
                p[at] |= j < h ? v : v << 16;
            }
        }
        return new ServedMatrix(ServeDtype.BFLOAT16, out, in, in, h, null, p, words, null, null, 0);
    }

    /** Symmetric int8 with one scale per {@code group} columns ({@code group == in}: per row). */
    public static ServedMatrix int8(float[] w, int out, int in, int group) {
        check(w, out, in);
        if (group <= 0 || in % group != 0) throw new IllegalArgumentException("int8 group " + group + " must divide " + in);
        int groups = in / group;
        byte[] q = new byte[out * in];
        float[] s = new float[out * groups];
        for (int o = 0; o < out; o++) {
            for (int g = 0; g < groups; g++) {
                int from = o * in + g * group;
                float max = 0f;
                for (int i = 0; i < group; i++) max = Math.max(max, Math.abs(w[from + i]));
                float scale = max / 127f;
                s[o * groups + g] = scale;
                float inv = scale == 0f ? 0f : 1f / scale;
                for (int i = 0; i < group; i++) {
                    q[from + i] = (byte) Math.max(-127, Math.min(127, Math.round(w[from + i] * inv)));
                }
            }
        }
        return new ServedMatrix(ServeDtype.INT8, out, in, group, 0, null, null, 0, q, s, groups);
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
            case FLOAT32 -> f32[o * in + i];
            case BFLOAT16 -> {
                int b = i / (2 * half), j = i % (2 * half);
                int word = bf16[o * rowWords + b * half + (j % half)];
                yield Float.intBitsToFloat(j < half ? word << 16 : word & 0xFFFF0000);
            }
            case INT8 -> q8[o * in + i] * scales[o * groups + i / group];
        };
    }

    /** Row {@code o} as float32 into {@code dst[at, at+in)}. */
    void rowInto(int o, float[] dst, int at) {
        switch (dtype) {
            case FLOAT32 -> System.arraycopy(f32, o * in, dst, at, in);
            case BFLOAT16 -> {
                int base = o * rowWords, h = half;
                for (int i = 0; i < in; i++) {
                    int b = i / (2 * h), j = i - b * 2 * h;
                    int word = bf16[base + b * h + (j % h)];
                    dst[at + i] = Float.intBitsToFloat(j < h ? word << 16 : word & 0xFFFF0000);
                }
            }
            case INT8 -> {
                int base = o * in, sb = o * groups;
                for (int g = 0; g < groups; g++) {
                    float s = scales[sb + g];
                    for (int i = g * group; i < (g + 1) * group; i++) dst[at + i] = q8[base + i] * s;
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
            case BFLOAT16 -> 4L * bf16.length;
            case INT8 -> q8.length + 4L * scales.length;
        };
    }

    private static void check(float[] w, int out, int in) {
        if (w.length != (long) out * in) throw new IllegalArgumentException("matrix of " + w.length + " values is not [" + out + "," + in + "]");
    }
}
