package io.engram.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor in host memory: contiguous, row-major, little-endian. The data may be a heap buffer or a memory-mapped
 * slice of a weight file; either way it is exposed read-only. A 0-d tensor has an empty shape and one element.
 */
public final class HostTensor {

    private final String name;
    private final WeightDType dtype;
    private final long[] shape;
    private final long numel;
    private final ByteBuffer data;

    /**
     * @param data the bytes from its position to its limit; their count must equal numel * dtype size
     * @throws IllegalArgumentException on a negative dimension or a size mismatch
     */
    public HostTensor(String name, WeightDType dtype, long[] shape, ByteBuffer data) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = Objects.requireNonNull(shape, "shape").clone();
        Objects.requireNonNull(data, "data");
        this.numel = numelOf(this.shape);
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "' is too large: shape " + Arrays.toString(shape));
        }
        if (data.remaining() != bytes) {
            throw new IllegalArgumentException("tensor '" + name + "' " + dtype + " " + Arrays.toString(shape)
                    + " needs " + bytes + " bytes but got " + data.remaining());
        }
        this.data = data.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A F32 tensor holding a copy of {@code values}. */
    public static HostTensor ofFloats(String name, long[] shape, float[] values) {
        if (numelOf(shape) != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " holds "
                    + numelOf(shape) + " elements but " + values.length + " values were given");
        }
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(values);
        return new HostTensor(name, WeightDType.F32, shape, buf);
    }

    /** The number of elements of a shape (1 for a 0-d shape); throws IllegalArgumentException on bad dimensions. */
    static long numelOf(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " overflows");
            }
        }
        return n;
    }

    public String name() {
        return name;
    }

    public WeightDType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** The shape as ints; throws IllegalStateException if a dimension does not fit in an int. */
    public int[] intShape() {
        int[] out = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > Integer.MAX_VALUE) {
                throw new IllegalStateException("tensor '" + name + "' dimension " + i + " (" + shape[i]
                        + ") does not fit in an int");
            }
            out[i] = (int) shape[i];
        }
        return out;
    }

    public long numel() {
        return numel;
    }

    /** A read-only little-endian view of the bytes, position 0. */
    public ByteBuffer data() {
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The values as floats: F16 and BF16 are widened exactly, F64 is rounded to nearest, integers and BOOL are
     * converted.
     */
    public float[] toFloatArray() {
        int n = Math.toIntExact(numel);
        float[] out = new float[n];
        if (dtype.isFloatingPoint()) {
            floatsInto(0, out, 0, n);
        } else {
            long[] longs = toLongArray();
            for (int i = 0; i < n; i++) {
                out[i] = (float) longs[i];
            }
        }
        return out;
    }

    /**
     * Elements {@code [from, from+n)} (flat, row-major) as floats into {@code dst[at ..]}, converted as
     * {@link #toFloatArray} does: a row at a time, so a large matrix can be converted without a float copy of all
     * of it. Floating-point dtypes only.
     */
    public void floatsInto(long from, float[] dst, int at, int n) {
        if (from < 0 || n < 0 || from + n > numel) {
            throw new IndexOutOfBoundsException("elements [" + from + ", " + (from + n) + ") of tensor '" + name + "' with " + numel);
        }
        int i0 = Math.toIntExact(from);
        switch (dtype) {
            case F32 -> data.asFloatBuffer().get(i0, dst, at, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[at + i] = bf16ToFloat(data.getShort((i0 + i) * 2));
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst[at + i] = halfToFloat(data.getShort((i0 + i) * 2));
            }
            case F64 -> {
                for (int i = 0; i < n; i++) dst[at + i] = (float) data.getDouble((i0 + i) * 8);
            }
            default -> throw new IllegalStateException("tensor '" + name + "' has dtype " + dtype + "; floatsInto reads float tensors");
        }
    }

    /** The values of an integer or BOOL tensor as longs (U8 is unsigned); IllegalStateException for float dtypes. */
    public long[] toLongArray() {
        int n = Math.toIntExact(numel);
        long[] out = new long[n];
        ByteBuffer b = data();
        switch (dtype) {
            case I64 -> b.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4);
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(i * 2);
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i);
                }
            }
            case U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i) & 0xFF;
                }
            }
            default -> throw new IllegalStateException("tensor '" + name + "' has floating-point dtype " + dtype
                    + "; use toFloatArray()");
        }
        return out;
    }

    /** Exact IEEE half to float conversion, including subnormals, infinities and NaN payloads. */
    static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal or zero: exact, mant < 2^10
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Exact bfloat16 to float conversion: the bf16 bits are the top half of the float bits. */
    static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    @Override
    public String toString() {
        return "HostTensor[" + name + " " + dtype + " " + Arrays.toString(shape) + "]";
    }
}
