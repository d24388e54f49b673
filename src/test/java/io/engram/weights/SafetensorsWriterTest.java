package io.engram.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {

    @TempDir
    Path tmp;

    private static HostTensor shorts(String name, WeightDType dtype, long[] shape, int... bits) {
        ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : bits) {
            b.putShort((short) v);
        }
        return new HostTensor(name, dtype, shape, b.flip());
    }

    private static Map<String, HostTensor> sample() {
        Map<String, HostTensor> m = new LinkedHashMap<>();
        m.put("z.f32", HostTensor.ofFloats("z.f32", new long[] {2, 3},
                new float[] {1f, -0f, Float.MIN_VALUE, Float.NaN, 3.25f, -7e30f}));
        m.put("a.f16", shorts("a.f16", WeightDType.F16, new long[] {3}, 0x3C00, 0x8001, 0x7BFF));
        m.put("m.bf16", shorts("m.bf16", WeightDType.BF16, new long[] {1, 2}, 0x3F80, 0xC049));
        m.put("scalar", HostTensor.ofFloats("scalar", new long[0], new float[] {42f}));
        return m;
    }

    private static void assertSameBytes(HostTensor want, HostTensor got) {
        assertEquals(want.dtype(), got.dtype(), want.name());
        assertArrayEquals(want.shape(), got.shape(), want.name());
        ByteBuffer a = want.data();
        ByteBuffer b = got.data();
        byte[] x = new byte[a.remaining()];
        byte[] y = new byte[b.remaining()];
        a.get(x);
        b.get(y);
        assertArrayEquals(x, y, want.name());
    }

    @Test
    void roundTripIsBitExact() throws IOException {
        Map<String, HostTensor> tensors = sample();
        Path f = tmp.resolve("out.safetensors");
        SafetensorsWriter.write(f, tensors, Map.of("format", "pt", "note", "quote \" and \\ and\nnewline"));
        try (Checkpoint c = Checkpoints.open(f)) {
            assertEquals(Set.of("z.f32", "a.f16", "m.bf16", "scalar"), c.names());
            for (HostTensor t : tensors.values()) {
                assertSameBytes(t, c.get(t.name()));
            }
            assertEquals("quote \" and \\ and\nnewline", c.metadata().get("note"));
            assertEquals(0x7FC00000, Float.floatToRawIntBits(c.get("z.f32").toFloatArray()[3]));
            assertEquals(0x80000000, Float.floatToRawIntBits(c.get("z.f32").toFloatArray()[1]));
        }
    }

    @Test
    void headerKeepsInsertionOrderAndAlignsData() throws IOException {
        Path f = tmp.resolve("order.safetensors");
        SafetensorsWriter.write(f, sample(), null);
        byte[] all = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + n) % 8, "data section is 8-byte aligned");
        String header = new String(all, 8, (int) n, StandardCharsets.UTF_8);
        int z = header.indexOf("z.f32");
        int a = header.indexOf("a.f16");
        int m = header.indexOf("m.bf16");
        assertTrue(z >= 0 && z < a && a < m, header);
        assertTrue(!header.contains("__metadata__"), header);
        assertEquals(8 + n + 24 + 6 + 4 + 4, all.length);
    }

    @Test
    void overwritesAnExistingFile() throws IOException {
        Path f = tmp.resolve("w.safetensors");
        Files.writeString(f, "junk");
        SafetensorsWriter.write(f, Map.of("w", HostTensor.ofFloats("w", new long[] {1}, new float[] {5f})), Map.of());
        try (Checkpoint c = Checkpoints.open(f)) {
            assertArrayEquals(new float[] {5f}, c.get("w").toFloatArray());
        }
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(f), s.toList(), "no temporary file left behind");
        }
    }

    @Test
    void shardedDirectoryOpens() throws IOException {
        Map<String, HostTensor> all = sample();
        Map<String, HostTensor> first = new LinkedHashMap<>();
        Map<String, HostTensor> second = new LinkedHashMap<>();
        first.put("z.f32", all.get("z.f32"));
        first.put("a.f16", all.get("a.f16"));
        second.put("m.bf16", all.get("m.bf16"));
        second.put("scalar", all.get("scalar"));
        Path s1 = tmp.resolve("model-00001-of-00002.safetensors");
        Path s2 = tmp.resolve("model-00002-of-00002.safetensors");
        SafetensorsWriter.write(s1, first, Map.of("format", "pt"));
        SafetensorsWriter.write(s2, second, Map.of("format", "pt"));
        Files.writeString(tmp.resolve("model.safetensors.index.json"), """
                {"metadata": {"total_size": 38},
                 "weight_map": {"z.f32": "model-00001-of-00002.safetensors",
                                "a.f16": "model-00001-of-00002.safetensors",
                                "m.bf16": "model-00002-of-00002.safetensors",
                                "scalar": "model-00002-of-00002.safetensors"}}
                """);
        try (Checkpoint c = Checkpoints.open(tmp)) {
            assertEquals(List.of("a.f16", "m.bf16", "scalar", "z.f32"), List.copyOf(c.names()));
            for (HostTensor t : all.values()) {
                assertSameBytes(t, c.get(t.name()));
            }
            assertEquals(List.of(s1, s2), c.files());
            assertEquals("pt", c.metadata().get("format"));
            assertEquals("38", c.metadata().get("total_size"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.get("nope"));
            assertTrue(e.getMessage().startsWith("missing tensor 'nope' in "), e.getMessage());
        }
    }

    @Test
    void shardIndexNamingAMissingTensorOrForeignPathIsRejected() throws IOException {
        SafetensorsWriter.write(tmp.resolve("model-00001-of-00001.safetensors"), sample(), Map.of());
        Path index = tmp.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\": {\"ghost\": \"model-00001-of-00001.safetensors\"}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(tmp));
        assertTrue(e.getMessage().contains("'ghost'"), e.getMessage());
        Files.writeString(index, "{\"weight_map\": {\"z.f32\": \"../elsewhere.safetensors\"}}");
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(index));
        assertTrue(e.getMessage().contains("../elsewhere.safetensors"), e.getMessage());
        Files.writeString(index, "{\"weight_map\": {}}");
        assertThrows(CheckpointException.class, () -> Checkpoints.open(index));
    }
}
