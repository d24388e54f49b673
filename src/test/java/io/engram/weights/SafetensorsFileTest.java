package io.engram.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {

    @TempDir
    Path tmp;

    /** The RWKV-7 names and shapes from the oracle README: L=2, C=64, H=4, N=16, LoRA 16/16/8/32, ffn 256, V=256. */
    static Map<String, long[]> rwkv7Shapes() {
        int c = 64;
        Map<String, long[]> m = new TreeMap<>();
        m.put("emb.weight", new long[] {256, c});
        m.put("head.weight", new long[] {256, c});
        m.put("ln_out.weight", new long[] {c});
        m.put("ln_out.bias", new long[] {c});
        m.put("blocks.0.ln0.weight", new long[] {c});
        m.put("blocks.0.ln0.bias", new long[] {c});
        for (int i = 0; i < 2; i++) {
            String b = "blocks." + i + ".";
            for (String ln : List.of("ln1", "ln2", "att.ln_x")) {
                m.put(b + ln + ".weight", new long[] {c});
                m.put(b + ln + ".bias", new long[] {c});
            }
            for (String p : List.of("x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "a0", "v0", "k_k", "k_a")) {
                m.put(b + "att." + p, new long[] {1, 1, c});
            }
            m.put(b + "att.w1", new long[] {c, 16});
            m.put(b + "att.w2", new long[] {16, c});
            m.put(b + "att.a1", new long[] {c, 16});
            m.put(b + "att.a2", new long[] {16, c});
            m.put(b + "att.v1", new long[] {c, 8});
            m.put(b + "att.v2", new long[] {8, c});
            m.put(b + "att.g1", new long[] {c, 32});
            m.put(b + "att.g2", new long[] {32, c});
            m.put(b + "att.r_k", new long[] {4, 16});
            for (String lin : List.of("receptance", "key", "value", "output")) {
                m.put(b + "att." + lin + ".weight", new long[] {c, c});
            }
            m.put(b + "ffn.x_k", new long[] {1, 1, c});
            m.put(b + "ffn.key.weight", new long[] {256, c});
            m.put(b + "ffn.value.weight", new long[] {c, 256});
        }
        return m;
    }

    @Test
    void rwkv7NamesAndShapesMatchTheReadme() {
        Map<String, long[]> expected = rwkv7Shapes();
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("rwkv7_a.safetensors"))) {
            assertEquals(72, expected.size());
            assertEquals(new ArrayList<>(expected.keySet()), new ArrayList<>(c.names()), "sorted name set");
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                HostTensor t = c.get(e.getKey());
                assertEquals(WeightDType.F32, t.dtype(), e.getKey());
                assertArrayEquals(e.getValue(), t.shape(), e.getKey());
                assertEquals(e.getKey(), t.name());
            }
            assertEquals("16", c.metadata().get("head_size"));
            assertEquals(List.of(Fixtures.oracle("rwkv7_a.safetensors")), c.files());
        }
    }

    @Test
    void rwkv7ValuesAreReadLittleEndian() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("rwkv7_a.safetensors"))) {
            float[] emb = c.get("emb.weight").toFloatArray();
            assertEquals(256 * 64, emb.length);
            assertEquals(0x3f6eacaf, Float.floatToRawIntBits(emb[0]));
            assertEquals(0xbe0a1421, Float.floatToRawIntBits(emb[1]));
            float[] rk = c.get("blocks.1.att.r_k").toFloatArray();
            assertEquals(0xbf36db15, Float.floatToRawIntBits(rk[0]));
            assertEquals(0x3de0250a, Float.floatToRawIntBits(rk[2]));
        }
    }

    @Test
    void retnetMetadataHoldsTheConfig() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("retnet_a.safetensors"))) {
            String config = c.metadata().get("config");
            assertTrue(config != null && config.contains("\"decoder_embed_dim\": 64"), config);
            assertArrayEquals(new long[] {128, 64}, c.get("layers.0.retention.v_proj.weight").shape());
            assertArrayEquals(new long[] {4}, c.get("retnet_rel_pos.decay").shape());
        }
    }

    @Test
    void namesAreSortedAndUnmodifiable() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("retnet_a.safetensors"))) {
            List<String> names = new ArrayList<>(c.names());
            List<String> sorted = new ArrayList<>(names);
            sorted.sort(null);
            assertEquals(sorted, names);
            assertThrows(UnsupportedOperationException.class, () -> c.names().add("x"));
            assertTrue(c.contains("embed_tokens.weight"));
            assertFalse(c.contains("nope"));
        }
    }

    @Test
    void missingTensorNamesTensorAndFile() {
        Path file = Fixtures.oracle("rwkv7_a.safetensors");
        try (Checkpoint c = Checkpoints.open(file)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> c.get("blocks.9.att.r_k"));
            assertEquals("missing tensor 'blocks.9.att.r_k' in " + file, e.getMessage());
        }
    }

    @Test
    void getAfterCloseFails() {
        Checkpoint c = Checkpoints.open(Fixtures.oracle("rwkv7_a.safetensors"));
        c.close();
        assertThrows(CheckpointException.class, () -> c.get("emb.weight"));
        c.close(); // idempotent
    }

    @Test
    void truncatedFileIsRejectedWithItsName() throws IOException {
        byte[] all = Files.readAllBytes(Fixtures.oracle("rwkv7_a.safetensors"));
        Path cut = Files.write(tmp.resolve("half.safetensors"), Arrays.copyOf(all, all.length / 2));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("past the end"), e.getMessage());
    }

    @Test
    void headerLengthLargerThanFileIsRejected() throws IOException {
        Path f = file("lying.safetensors", 1_000_000, "{}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("header length 1000000"), e.getMessage());
        Path huge = file("huge.safetensors", -2, "{}");
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(huge));
        assertTrue(e.getMessage().contains("18446744073709551614"), e.getMessage());
    }

    @Test
    void tooShortFileIsRejected() throws IOException {
        Path f = Files.write(tmp.resolve("short.safetensors"), new byte[] {1, 2, 3});
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void malformedHeadersAreRejected() throws IOException {
        assertRejected("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", "malformed JSON");
        assertRejected("[1, 2]", "not a JSON object");
        assertRejected("{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", "'w'");
        assertRejected("{\"w\": {\"dtype\": \"Q7\", \"shape\": [2], \"data_offsets\": [0, 8]}}", "'Q7'");
        assertRejected("{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "shape");
        assertRejected("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", "reversed");
        assertRejected("{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 8]}}",
                "bad shape");
        assertRejected("{\"__metadata__\": {\"a\": [1]}}", "__metadata__");
    }

    @Test
    void validHandWrittenFileLoads() throws IOException {
        Path f = file("ok.safetensors", -1, "{\"__metadata__\": {\"k\": \"v\"},"
                + " \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 1.5f, -2f);
        try (Checkpoint c = Checkpoints.open(f)) {
            assertArrayEquals(new float[] {1.5f, -2f}, c.get("w").toFloatArray());
            assertEquals(Map.of("k", "v"), c.metadata());
        }
    }

    private void assertRejected(String header, String expectedInMessage) throws IOException {
        Path f = file("bad.safetensors", -1, header, 1f, 2f);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f), header);
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expectedInMessage), e.getMessage());
    }

    /** A file with the given header length (-1: the real one), header text and float data. */
    private Path file(String name, long headerLength, String header, float... data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength == -1 ? h.length : headerLength).put(h);
        for (float v : data) {
            b.putFloat(v);
        }
        return Files.write(tmp.resolve(name), b.array());
    }
}
