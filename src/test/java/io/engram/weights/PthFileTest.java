package io.engram.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PthFileTest {

    @TempDir
    Path tmp;

    private static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = Float.floatToRawIntBits(f[i]);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv7_a", "retnet_a"})
    void fp32PthIsBitIdenticalToSafetensors(String model) {
        try (Checkpoint st = Checkpoints.open(Fixtures.oracle(model + ".safetensors"));
             Checkpoint pth = Checkpoints.open(Fixtures.oracle(model + ".fp32.pth"))) {
            assertEquals(st.names(), pth.names());
            assertTrue(pth.metadata().isEmpty());
            for (String name : st.names()) {
                HostTensor want = st.get(name);
                HostTensor got = pth.get(name);
                assertEquals(WeightDType.F32, got.dtype(), name);
                assertArrayEquals(want.shape(), got.shape(), name);
                assertArrayEquals(bits(want.toFloatArray()), bits(got.toFloatArray()), name);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rwkv7_a", "retnet_a"})
    void bf16PthHoldsTheRoundedWeights(String model) {
        try (Checkpoint st = Checkpoints.open(Fixtures.oracle(model + ".safetensors"));
             Checkpoint pth = Checkpoints.open(Fixtures.oracle(model + ".bf16.pth"))) {
            assertEquals(st.names(), pth.names());
            int inexact = 0;
            for (String name : st.names()) {
                HostTensor got = pth.get(name);
                assertEquals(WeightDType.BF16, got.dtype(), name);
                assertArrayEquals(st.get(name).shape(), got.shape(), name);
                float[] want = st.get(name).toFloatArray();
                float[] have = got.toFloatArray();
                ByteBuffer raw = got.data();
                for (int i = 0; i < want.length; i++) {
                    short rounded = Fixtures.toBf16RoundNearestEven(want[i]);
                    assertEquals(rounded, raw.getShort(2 * i), name + "[" + i + "]");
                    assertEquals(Float.intBitsToFloat((rounded & 0xFFFF) << 16), have[i], name + "[" + i + "]");
                    if (have[i] != want[i]) {
                        inexact++;
                    }
                }
            }
            assertTrue(inexact > 1000, "bf16 weights differ from the f32 ones: " + inexact);
        }
    }

    @Test
    void layoutCasesMatchTheExpectedContiguousTensors() {
        try (Checkpoint want = Checkpoints.open(Fixtures.oracle("layout_cases.expected.safetensors"));
             Checkpoint got = Checkpoints.open(Fixtures.oracle("layout_cases.pth"))) {
            assertEquals(want.names(), got.names());
            for (String name : want.names()) {
                HostTensor w = want.get(name);
                HostTensor g = got.get(name);
                assertArrayEquals(w.shape(), g.shape(), name);
                if (w.dtype() == WeightDType.I64) {
                    assertEquals(WeightDType.I64, g.dtype(), name);
                    assertArrayEquals(w.toLongArray(), g.toLongArray(), name);
                } else {
                    assertEquals(WeightDType.F32, w.dtype(), name);
                    assertArrayEquals(bits(w.toFloatArray()), bits(g.toFloatArray()), name);
                }
            }
            assertEquals(WeightDType.F16, got.get("half").dtype());
            assertEquals(WeightDType.BF16, got.get("bf16").dtype());
            assertEquals(WeightDType.F32, got.get("transposed").dtype());
            assertEquals(0, got.get("scalar").shape().length);
            assertArrayEquals(new float[] {3.5f}, got.get("scalar").toFloatArray());
            assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, got.get("int64").toLongArray());
        }
    }

    @Test
    void transposeIsReallyTransposed() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("layout_cases.pth"))) {
            float[] a = c.get("contiguous").toFloatArray(); // [6, 8]
            float[] t = c.get("transposed").toFloatArray(); // [8, 6]
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 8; j++) {
                    assertEquals(a[i * 8 + j], t[j * 6 + i]);
                }
            }
        }
    }

    /** {'epoch': 3, 'state_dict': {'w': tensor}} uses the nested dict; _rebuild_parameter yields its tensor. */
    @Test
    void nestedStateDictAndParametersAreUnwrapped() throws IOException {
        var p = new TorchZips.Pickle().op(0x80, 2).op('}').op('(');
        p.str("epoch").integer(3);
        p.str("args").op(']').str("lr").op('a');
        p.str("state_dict").op('}').op('(');
        p.str("w").global("torch._utils", "_rebuild_parameter").op('(')
                .tensor("FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {2, 1})
                .op(0x88).global("collections", "OrderedDict").op(')', 'R').op('t', 'R');
        p.str("b").tensor("FloatStorage", "0", 4, 1, new long[] {2}, new long[] {2});
        p.op('u'); // inner SETITEMS
        p.op('u', '.');
        Path f = TorchZips.write(tmp.resolve("nested.pt"), "nested", p.bytes(),
                Map.of("0", TorchZips.floatsLE(1, 2, 3, 4)));
        try (Checkpoint c = Checkpoints.open(f)) {
            assertEquals(java.util.Set.of("b", "w"), c.names());
            assertArrayEquals(new float[] {1, 2, 3, 4}, c.get("w").toFloatArray());
            assertArrayEquals(new float[] {2, 4}, c.get("b").toFloatArray());
        }
    }

    @Test
    void expandedViewWithZeroStrideIsMaterialised() throws IOException {
        var p = new TorchZips.Pickle().op(0x80, 2).op('}').op('(');
        p.str("e").tensor("FloatStorage", "0", 3, 0, new long[] {2, 3}, new long[] {0, 1});
        p.op('u', '.');
        Path f = TorchZips.write(tmp.resolve("expand.pth"), "expand", p.bytes(),
                Map.of("0", TorchZips.floatsLE(7, 8, 9)));
        try (Checkpoint c = Checkpoints.open(f)) {
            assertArrayEquals(new float[] {7, 8, 9, 7, 8, 9}, c.get("e").toFloatArray());
        }
    }

    @Test
    void storageTooShortForSizeAndStrideIsRejected() throws IOException {
        // the view reaches element 4 + 1*3 = 7, but the storage has 6 elements
        var p = new TorchZips.Pickle().op(0x80, 2).op('}').op('(');
        p.str("view").tensor("FloatStorage", "0", 6, 4, new long[] {2, 2}, new long[] {3, 1});
        p.op('u', '.');
        Path f = TorchZips.write(tmp.resolve("short.pth"), "short", p.bytes(), Map.of("0", new byte[24]));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f));
        assertTrue(e.getMessage().contains("'view'") && e.getMessage().contains(f.toString()), e.getMessage());

        // the pickle claims 6 elements, the entry holds only 2
        var q = new TorchZips.Pickle().op(0x80, 2).op('}').op('(');
        q.str("w").tensor("FloatStorage", "0", 6, 0, new long[] {6}, new long[] {1});
        q.op('u', '.');
        Path g = TorchZips.write(tmp.resolve("short2.pth"), "short2", q.bytes(), Map.of("0", new byte[8]));
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(g));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains(g.toString()), e.getMessage());

        // the storage entry is missing altogether
        Path h = TorchZips.write(tmp.resolve("nostorage.pth"), "nostorage", q.bytes(), Map.of());
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(h));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void corruptAndTruncatedZipsAreRejected() throws IOException {
        Path junk = Files.write(tmp.resolve("junk.pth"), "this is not a zip at all".getBytes());
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(junk));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());

        byte[] all = Files.readAllBytes(Fixtures.oracle("rwkv7_a.fp32.pth"));
        Path cut = Files.write(tmp.resolve("cut.pth"), Arrays.copyOf(all, all.length / 2));
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());

        Path legacy = Files.write(tmp.resolve("legacy.pt"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0, 0});
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(legacy));
        assertTrue(e.getMessage().contains("legacy"), e.getMessage());
    }

    @Test
    void pickleWithoutTensorsIsRejected() throws IOException {
        var p = new TorchZips.Pickle().op(0x80, 2).op('}').str("epoch").integer(3).op('s', '.');
        Path f = TorchZips.write(tmp.resolve("empty.pth"), "empty", p.bytes(), Map.of());
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f));
        assertTrue(e.getMessage().contains("no tensors"), e.getMessage());
    }

    @Test
    void namesAreSorted() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("layout_cases.pth"))) {
            assertEquals(new java.util.ArrayList<>(new TreeMap<>(
                    Map.of("contiguous", 0, "transposed", 0, "row_slice", 0, "col_slice", 0,
                            "shares_storage_with_contiguous", 0, "half", 0, "bf16", 0, "int64", 0, "scalar", 0))
                    .keySet()), new java.util.ArrayList<>(c.names()));
        }
    }
}
