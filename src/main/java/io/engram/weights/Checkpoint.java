package io.engram.weights;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A set of named tensors loaded from one model's weight files (a safetensors file, a set of safetensors shards, or a
 * {@code torch.save} zip). Obtain one with {@link Checkpoints#open(Path)}; close it to release file handles. Tensors
 * returned by {@link #get(String)} may be memory-mapped and must not be used after the file is deleted.
 */
public interface Checkpoint extends AutoCloseable {

    /** The tensor names, sorted. */
    Set<String> names();

    boolean contains(String name);

    /** The tensor; throws CheckpointException {@code "missing tensor 'x' in <file>"} if absent. */
    HostTensor get(String name);

    /** The safetensors {@code __metadata__} (empty for .pth files). */
    Map<String, String> metadata();

    /** The weight files this checkpoint was read from, sorted. */
    List<Path> files();

    @Override
    void close();
}
