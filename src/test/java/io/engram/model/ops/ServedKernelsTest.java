package io.engram.model.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.engram.weights.ServeDtype;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The served-format kernels compute exactly the product of the matrix they claim to hold: for every format, row
 * count and awkward width (tails shorter than a vector, fewer rows than a block), {@code y = x W^T} against a
 * double-precision product with the dequantized matrix. Separately, the quantizers' own error is bounded by
 * their step size.
 */
class ServedKernelsTest {

    @ParameterizedTest(name = "{0} out={1} in={2} rows={3}")
    @CsvSource({
            "float32, 37, 768, 1", "bfloat16, 37, 768, 1", "int8, 37, 768, 1",
            "bfloat16, 37, 768, 5", "int8, 37, 768, 5", "float32, 37, 768, 5",
            "bfloat16, 9, 100, 1", "int8, 9, 100, 1", "bfloat16, 6, 100, 3", "int8, 6, 192, 3",
            "bfloat16, 130, 64, 1", "int8, 130, 64, 2",
            // batched decode: input rows in pairs plus an odd one, vector-widened blocks, tails narrower than a vector
            "float32, 37, 768, 16", "bfloat16, 37, 768, 17", "int8, 37, 768, 16", "float32, 9, 100, 3",
            "bfloat16, 9, 100, 4", "int8, 130, 64, 7", "int8, 6, 192, 17"})
    void productMatchesTheDequantizedMatrix(String dtype, int out, int in, int rows) {
        Random rnd = new Random(out * 31 + in);
        float[] w = gaussian(rnd, out * in, 0.05f);
        float[] x = gaussian(rnd, rows * in + 3, 1f);
        ServedMatrix m = ServedMatrix.of(w, out, in, ServeDtype.parse(dtype, "test"));
        float[] dq = m.dequantize();
        float[] y = new float[rows * out + 2];
        ServedKernels.matVecs(new ServedKernels.Job(m, x, 3, y, 2, rows));
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double want = 0, mag = 0;
                for (int i = 0; i < in; i++) {
                    want += (double) dq[o * in + i] * x[3 + r * in + i];
                    mag += Math.abs((double) dq[o * in + i] * x[3 + r * in + i]);
                }
                assertEquals(want, y[2 + r * out + o], 1e-5 * mag + 1e-6, "row " + r + " out " + o);
            }
        }
    }

    /**
     * A batched product gives each input row what that row gives alone, to a few float32 ulps: the batched
     * kernels (the 4x4 register tiles, the widened-buffer path for bf16 and int8) keep the
     * one-row kernels' sums, some in another order (the weight rows a block of four leaves, the lane reduction).
     */
    @ParameterizedTest(name = "{0} out={1} in={2} rows={3}")
    @CsvSource({"bfloat16, 37, 768, 16", "bfloat16, 40, 768, 7", "bfloat16, 9, 100, 5", "float32, 37, 768, 16",
            "float32, 9, 100, 6", "int8, 37, 768, 16", "int8, 40, 768, 7", "int8, 9, 100, 5", "int8, 130, 64, 3"})
    void aBatchedRowAgreesWithTheRowAlone(String dtype, int out, int in, int rows) {
        Random rnd = new Random(out * 7 + in + rows);
        float[] w = gaussian(rnd, out * in, 0.05f);
        float[] x = gaussian(rnd, rows * in, 1f);
        ServedMatrix m = ServedMatrix.of(w, out, in, ServeDtype.parse(dtype, "test"));
        float[] batched = new float[rows * out];
        ServedKernels.matVecs(new ServedKernels.Job(m, x, 0, batched, 0, rows));
        for (int r = 0; r < rows; r++) {
            float[] alone = new float[out];
            ServedKernels.matVecs(new ServedKernels.Job(m, x, r * in, alone, 0, 1));
            for (int o = 0; o < out; o++) {
                double mag = 0;
                for (int i = 0; i < in; i++) mag += Math.abs((double) m.get(o, i) * x[r * in + i]);
                assertEquals(alone[o], batched[r * out + o], 1e-6 * mag + 1e-7, "row " + r + " out " + o);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"float32, 37, 768, 1", "float32, 9, 100, 3", "bfloat16, 130, 64, 1", "bfloat16, 37, 768, 17",
            "int8, 37, 768, 1", "int8, 6, 192, 16", "int8, 5, 100, 2"})
    void offHeapStorageHoldsTheSameValuesAndMultipliesTheSame(String dtype, int out, int in, int rows) {
        Random rnd = new Random(out * 17 + in);
        float[] w = gaussian(rnd, out * in, 0.05f);
        float[] x = gaussian(rnd, rows * in, 1f);
        ServeDtype d = ServeDtype.parse(dtype, "test");
        ServedMatrix heap = ServedMatrix.of(w, out, in, d);
        ServedMatrix off = ServedMatrix.build((o, dst) -> System.arraycopy(w, o * in, dst, 0, in), out, in, d, ServedMatrix.DIRECT);
        assertTrue(off.offHeap() && !heap.offHeap());
        assertArrayEquals(heap.dequantize(), off.dequantize(), "the same values, bit for bit");
        assertEquals(heap.bytes(), off.bytes());
        float[] yh = new float[rows * out], yo = new float[rows * out];
        ServedKernels.matVecs(new ServedKernels.Job(heap, x, 0, yh, 0, rows));
        ServedKernels.matVecs(new ServedKernels.Job(off, x, 0, yo, 0, rows));
        for (int i = 0; i < yh.length; i++) assertEquals(yh[i], yo[i], 1e-5 * (1 + Math.abs(yh[i])), "y[" + i + "]");
        java.nio.FloatBuffer all = java.nio.FloatBuffer.allocate(out * in);
        off.widenRows(0, out, all, new float[in]);
        assertArrayEquals(heap.dequantize(), all.array(), "widenRows gives the dequantized matrix");
    }

    /**
     * Every weight read back through the tile layout is the original within the format's step: shapes whose rows
     * fill whole tiles and blocks, and shapes that leave a partial tile (7 rows) and a partial block (100 columns).
     * The stored bytes are whole tiles of whole blocks, plus the int8 scales.
     */
    @ParameterizedTest(name = "out={0} in={1} group={2}")
    @CsvSource({"8, 256, 64", "7, 192, 64", "7, 100, 100", "5, 96, 32"})
    void quantizationErrorIsWithinHalfAStep(int out, int in, int group) {
        Random rnd = new Random(3);
        float[] w = gaussian(rnd, out * in, 1f);
        ServedMatrix q = ServedMatrix.int8(w, out, in, group), b = ServedMatrix.bfloat16(w, out, in);
        for (int o = 0; o < out; o++) {
            for (int g = 0; g < in / group; g++) {
                float max = 0;
                for (int i = g * group; i < (g + 1) * group; i++) max = Math.max(max, Math.abs(w[o * in + i]));
                for (int i = g * group; i < (g + 1) * group; i++) {
                    float v = w[o * in + i];
                    assertEquals(v, q.get(o, i), max / 127f / 2 * 1.0001f, "int8 [" + o + "," + i + "]");
                    assertEquals(v, b.get(o, i), Math.abs(v) / 256f, "bf16 [" + o + "," + i + "]");   // 8-bit mantissa
                }
            }
        }
        int tiles = (out + 3) / 4, lanes = q.lanes;
        int int8Cols = (in + 4 * lanes - 1) / (4 * lanes) * 4 * lanes, bf16Cols = (in + 2 * lanes - 1) / (2 * lanes) * 2 * lanes;
        assertEquals(4L * tiles * int8Cols + 4L * out * (in / group), q.bytes(), "int8 bytes");
        assertEquals(2L * 4 * tiles * bf16Cols, b.bytes(), "bf16 bytes");
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, ServedMatrix.toBf16(1.0f));
        assertEquals((short) 0x3F80, ServedMatrix.toBf16(Float.intBitsToFloat(0x3F808000)));   // tie -> even
        assertEquals((short) 0x3F82, ServedMatrix.toBf16(Float.intBitsToFloat(0x3F818000)));   // tie -> even (up)
        assertEquals((short) 0x3F81, ServedMatrix.toBf16(Float.intBitsToFloat(0x3F808001)));
    }

    @Test
    void unknownDtypeNamesTheSettingAndTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServeDtype.parse("fp8", "engram.serve-dtype"));
        assertEquals("engram.serve-dtype is 'fp8': must be one of [float32, bfloat16, int8]", e.getMessage());
    }

    static float[] gaussian(Random rnd, int n, float sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian() * sd;
        return a;
    }
}
