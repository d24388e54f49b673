package io.engram.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ReadOnlyBufferException;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostTensorTest {

    @Test
    void halfWidensExactlyForEveryBitPattern() {
        for (int h = 0; h < 0x10000; h++) {
            int exp = (h >>> 10) & 0x1F;
            int mant = h & 0x3FF;
            double sign = (h & 0x8000) != 0 ? -1 : 1;
            float got = HostTensor.halfToFloat((short) h);
            if (exp == 0x1F) {
                assertTrue(mant == 0 ? Float.isInfinite(got) && Math.signum(got) == sign : Float.isNaN(got),
                        "half 0x" + Integer.toHexString(h));
                continue;
            }
            double want = exp == 0 ? sign * mant * Math.pow(2, -24) : sign * (1024 + mant) * Math.pow(2, exp - 25);
            assertEquals(Float.floatToRawIntBits((float) want), Float.floatToRawIntBits(got),
                    "half 0x" + Integer.toHexString(h));
        }
        assertEquals(1.0f, HostTensor.halfToFloat((short) 0x3C00));
        assertEquals(65504f, HostTensor.halfToFloat((short) 0x7BFF));
        assertEquals(0x80000000, Float.floatToRawIntBits(HostTensor.halfToFloat((short) 0x8000)));
    }

    @Test
    void bf16WidensByShifting() {
        assertEquals(1.0f, HostTensor.bf16ToFloat((short) 0x3F80));
        assertEquals(-2.0f, HostTensor.bf16ToFloat((short) 0xC000));
        assertEquals(0x3F8A0000, Float.floatToRawIntBits(HostTensor.bf16ToFloat((short) 0x3F8A)));
    }

    @Test
    void halfAndBf16TensorsConvertToFloats() {
        ByteBuffer half = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001).flip();
        assertArrayEquals(new float[] {1f, -2f, 0x1p-24f},
                new HostTensor("h", WeightDType.F16, new long[] {3}, half).toFloatArray());
        ByteBuffer bf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 0x3F80).putShort((short) 0x4049).flip();
        assertArrayEquals(new float[] {1f, 3.140625f},
                new HostTensor("b", WeightDType.BF16, new long[] {2}, bf).toFloatArray());
    }

    @Test
    void ofFloatsIsLittleEndianReadOnlyAndAtPositionZero() {
        HostTensor t = HostTensor.ofFloats("w", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6});
        assertEquals(WeightDType.F32, t.dtype());
        assertEquals(6, t.numel());
        assertArrayEquals(new int[] {2, 3}, t.intShape());
        ByteBuffer d = t.data();
        assertEquals(0, d.position());
        assertEquals(24, d.remaining());
        assertEquals(ByteOrder.LITTLE_ENDIAN, d.order());
        assertTrue(d.isReadOnly());
        assertEquals(0x3F800000, d.getInt(0));
        assertEquals((byte) 0x80, d.get(2));
        assertThrows(ReadOnlyBufferException.class, () -> d.putFloat(0, 9f));
        d.position(8);
        assertEquals(0, t.data().position(), "each view is independent");
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toFloatArray());
    }

    @Test
    void shapeIsCopied() {
        long[] shape = {2};
        HostTensor t = HostTensor.ofFloats("w", shape, new float[] {1, 2});
        shape[0] = 99;
        t.shape()[0] = 77;
        assertArrayEquals(new long[] {2}, t.shape());
    }

    @Test
    void scalarHasOneElement() {
        HostTensor t = HostTensor.ofFloats("s", new long[0], new float[] {3.5f});
        assertEquals(1, t.numel());
        assertEquals(0, t.intShape().length);
        assertArrayEquals(new float[] {3.5f}, t.toFloatArray());
    }

    @Test
    void integerTensorsConvert() {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(-5).putLong(1L << 40).putLong(7)
                .flip();
        HostTensor t = new HostTensor("i", WeightDType.I64, new long[] {3}, b);
        assertArrayEquals(new long[] {-5, 1L << 40, 7}, t.toLongArray());
        assertArrayEquals(new float[] {-5f, (float) (1L << 40), 7f}, t.toFloatArray());
        HostTensor u8 = new HostTensor("u", WeightDType.U8, new long[] {2}, ByteBuffer.wrap(new byte[] {(byte) 200, 1}));
        assertArrayEquals(new long[] {200, 1}, u8.toLongArray());
        assertThrows(IllegalStateException.class,
                () -> HostTensor.ofFloats("f", new long[] {1}, new float[] {1}).toLongArray());
    }

    @Test
    void sizeMismatchIsRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> new HostTensor("x", WeightDType.F32, new long[] {3}, ByteBuffer.allocate(8)));
        assertThrows(IllegalArgumentException.class,
                () -> HostTensor.ofFloats("x", new long[] {2, 2}, new float[] {1, 2, 3}));
        assertThrows(IllegalArgumentException.class,
                () -> new HostTensor("x", WeightDType.F32, new long[] {-1}, ByteBuffer.allocate(0)));
    }

    @Test
    void dtypeNamesAndSizes() {
        assertEquals(WeightDType.BF16, WeightDType.fromSafetensors("BF16"));
        assertEquals(WeightDType.BOOL, WeightDType.fromSafetensors("BOOL"));
        assertEquals(8, WeightDType.F64.byteSize());
        assertEquals(2, WeightDType.BF16.byteSize());
        assertEquals(1, WeightDType.BOOL.byteSize());
        assertThrows(CheckpointException.class, () -> WeightDType.fromSafetensors("F8_E4M3"));
    }
}
