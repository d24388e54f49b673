package io.engram.weights;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A {@link Checkpoint} over tensors held in memory: lets the weight readers ({@code Rwkv7Weights.read},
 * {@code RetNetWeights.read}) validate tensors that were generated or trained rather than read from a file.
 */
public record InMemoryCheckpoint(Map<String, HostTensor> tensors) implements Checkpoint {

    /** Float32 copies of every tensor of {@code ck}, in name order: still valid after {@code ck} is closed. */
    public static Map<String, HostTensor> copyOf(Checkpoint ck) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        for (String n : ck.names()) {
            HostTensor t = ck.get(n);
            out.put(n, HostTensor.ofFloats(n, t.shape(), t.toFloatArray()));
        }
        return out;
    }

    @Override
    public Set<String> names() {
        return new TreeSet<>(tensors.keySet());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public HostTensor get(String name) {
        HostTensor t = tensors.get(name);
        if (t == null) throw new CheckpointException("missing tensor '" + name + "' in memory");
        return t;
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public List<Path> files() {
        return List.of(Path.of("<in memory>"));
    }

    @Override
    public void close() {}
}
