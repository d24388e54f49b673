package io.engram.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointsTest {

    @TempDir
    Path tmp;

    @Test
    void requireChecksShape() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("rwkv7_a.safetensors"))) {
            HostTensor t = Checkpoints.require(c, "blocks.0.att.r_k", 4, 16);
            assertArrayEquals(new long[] {4, 16}, t.shape());
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoints.require(c, "blocks.0.att.r_k", 16, 4));
            String m = e.getMessage();
            assertTrue(m.contains("'blocks.0.att.r_k'"), m);
            assertTrue(m.contains("[16, 4]") && m.contains("[4, 16]"), m);
            assertTrue(m.indexOf("[4, 16]") < m.indexOf("[16, 4]"), "actual then expected: " + m);
            e = assertThrows(CheckpointException.class, () -> Checkpoints.require(c, "emb.weight"));
            assertTrue(e.getMessage().contains("[256, 64]") && e.getMessage().contains("[]"), e.getMessage());
            e = assertThrows(CheckpointException.class, () -> Checkpoints.require(c, "ghost", 1));
            assertTrue(e.getMessage().startsWith("missing tensor 'ghost' in "), e.getMessage());
        }
    }

    @Test
    void requireAcceptsScalars() {
        try (Checkpoint c = Checkpoints.open(Fixtures.oracle("layout_cases.pth"))) {
            assertEquals(1, Checkpoints.require(c, "scalar").numel());
        }
    }

    @Test
    void opensADirectoryWithOnePth() throws IOException {
        Files.copy(Fixtures.oracle("retnet_a.bf16.pth"), tmp.resolve("retnet_a.bf16.pth"));
        Files.writeString(tmp.resolve("config.json"), "{}");
        try (Checkpoint c = Checkpoints.open(tmp)) {
            assertEquals(List.of(tmp.resolve("retnet_a.bf16.pth")), c.files());
            assertEquals(WeightDType.BF16, Checkpoints.require(c, "embed_tokens.weight", 256, 64).dtype());
        }
    }

    @Test
    void opensADirectoryWithModelSafetensors() throws IOException {
        Files.copy(Fixtures.oracle("rwkv7_a.safetensors"), tmp.resolve("model.safetensors"));
        Files.copy(Fixtures.oracle("rwkv7_a.fp32.pth"), tmp.resolve("other.pth"));
        try (Checkpoint c = Checkpoints.open(tmp)) {
            assertEquals(List.of(tmp.resolve("model.safetensors")), c.files());
            assertSame(c.names(), c.names());
            assertEquals(72, c.names().size());
        }
    }

    @Test
    void ambiguousOrEmptyDirectoriesAreRejected() throws IOException {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(tmp));
        assertTrue(e.getMessage().contains(tmp.toString()), e.getMessage());
        Files.copy(Fixtures.oracle("rwkv7_a.fp32.pth"), tmp.resolve("a.pth"));
        Files.copy(Fixtures.oracle("rwkv7_a.bf16.pth"), tmp.resolve("b.pth"));
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(tmp));
        assertTrue(e.getMessage().contains("a.pth") && e.getMessage().contains("b.pth"), e.getMessage());
    }

    @Test
    void missingPathsAndUnknownFilesAreRejected() throws IOException {
        Path none = tmp.resolve("nope.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(none));
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
        Path txt = Files.writeString(tmp.resolve("weights.txt"), "hello");
        e = assertThrows(CheckpointException.class, () -> Checkpoints.open(txt));
        assertTrue(e.getMessage().contains(txt.toString()), e.getMessage());
    }
}
