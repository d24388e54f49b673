package io.engram.weights;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A checkpoint split over several safetensors files, as written by Hugging Face {@code save_pretrained}:
 * {@code model-00001-of-00002.safetensors}, ... plus {@code model.safetensors.index.json}, whose {@code weight_map}
 * maps every tensor name to the shard file (a plain file name in the same directory) that holds it.
 *
 * <p>On open every shard is opened and every tensor of the weight map is checked to exist in its shard. The metadata
 * is the union of the shards' {@code __metadata__} and, for keys not already present, the index's {@code metadata}
 * values as strings (typically {@code total_size}).
 */
final class ShardedSafetensors implements Checkpoint {

    private static final long MAX_INDEX_BYTES = 64L * 1024 * 1024;

    private final Path index;
    private final SortedMap<String, SafetensorsFile> byTensor;
    private final List<SafetensorsFile> shards;
    private final SortedSet<String> names;
    private final Map<String, String> metadata;
    private final List<Path> files;

    private ShardedSafetensors(Path index, SortedMap<String, SafetensorsFile> byTensor, List<SafetensorsFile> shards,
            Map<String, String> metadata) {
        this.index = index;
        this.byTensor = byTensor;
        this.shards = shards;
        this.names = Collections.unmodifiableSortedSet(new TreeSet<>(byTensor.keySet()));
        this.metadata = metadata;
        List<Path> f = new ArrayList<>();
        for (SafetensorsFile s : shards) {
            f.add(s.path());
        }
        Collections.sort(f);
        this.files = List.copyOf(f);
    }

    /** Opens the index file and all shards it names; throws CheckpointException on any problem. */
    static ShardedSafetensors open(Path indexFile) {
        Map<?, ?> index = readIndex(indexFile);
        if (!(index.get("weight_map") instanceof Map<?, ?> weightMap) || weightMap.isEmpty()) {
            throw new CheckpointException("corrupt shard index " + indexFile + ": no weight_map");
        }
        Path dir = indexFile.toAbsolutePath().normalize().getParent();
        Map<String, SafetensorsFile> openShards = new TreeMap<>();
        SortedMap<String, SafetensorsFile> byTensor = new TreeMap<>();
        try {
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String tensor = (String) e.getKey();
                if (!(e.getValue() instanceof String shardName)) {
                    throw new CheckpointException("corrupt shard index " + indexFile + ": tensor '" + tensor
                            + "' maps to a non-string");
                }
                SafetensorsFile shard = openShards.get(shardName);
                if (shard == null) {
                    shard = SafetensorsFile.open(resolveShard(indexFile, dir, shardName, tensor));
                    openShards.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new CheckpointException("missing tensor '" + tensor + "' in " + shard.path()
                            + " (named by " + indexFile + ")");
                }
                byTensor.put(tensor, shard);
            }
        } catch (RuntimeException e) {
            openShards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (SafetensorsFile s : openShards.values()) {
            s.metadata().forEach(metadata::putIfAbsent);
        }
        if (index.get("metadata") instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(e.getValue() instanceof Map) && !(e.getValue() instanceof List)) {
                    metadata.putIfAbsent((String) e.getKey(), String.valueOf(e.getValue()));
                }
            }
        }
        return new ShardedSafetensors(indexFile, Collections.unmodifiableSortedMap(byTensor),
                List.copyOf(openShards.values()), Collections.unmodifiableMap(metadata));
    }

    private static Map<?, ?> readIndex(Path indexFile) {
        try {
            long size = Files.size(indexFile);
            if (size > MAX_INDEX_BYTES) {
                throw new CheckpointException("shard index " + indexFile + " is implausibly large (" + size
                        + " bytes)");
            }
            Object parsed = Json.parse(Files.readString(indexFile, StandardCharsets.UTF_8));
            if (!(parsed instanceof Map<?, ?> m)) {
                throw new CheckpointException("corrupt shard index " + indexFile + ": not a JSON object");
            }
            return m;
        } catch (IOException e) {
            throw new CheckpointException("cannot read shard index " + indexFile + ": " + e, e);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException("corrupt shard index " + indexFile + ": " + e.getMessage(), e);
        }
    }

    /** Shards must be files in the index's own directory: no paths, so an index cannot point elsewhere. */
    private static Path resolveShard(Path indexFile, Path dir, String shardName, String tensor) {
        Path p = dir.resolve(shardName).normalize();
        if (shardName.isEmpty() || !dir.equals(p.getParent())) {
            throw new CheckpointException("shard index " + indexFile + " maps tensor '" + tensor
                    + "' to '" + shardName + "', which is not a file in " + dir);
        }
        return indexFile.resolveSibling(p.getFileName());
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    @Override
    public HostTensor get(String name) {
        SafetensorsFile shard = byTensor.get(name);
        if (shard == null) {
            throw new CheckpointException("missing tensor '" + name + "' in " + index);
        }
        return shard.get(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public List<Path> files() {
        return files;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "ShardedSafetensors[" + index + ", " + shards.size() + " shards, " + names.size() + " tensors]";
    }
}
