package io.engram.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Opens model weights. Supported layouts:
 * <ul>
 *   <li>a {@code .safetensors} file (memory-mapped);</li>
 *   <li>a {@code .pth} / {@code .pt} / {@code .bin} file written by {@code torch.save} (zip format);</li>
 *   <li>a {@code *.safetensors.index.json} shard index;</li>
 *   <li>a directory holding {@code model.safetensors}, or {@code model.safetensors.index.json} with its shards
 *   {@code model-0000N-of-0000M.safetensors}, or exactly one {@code *.safetensors}, or exactly one {@code *.pth}
 *   (or {@code *.pt}).</li>
 * </ul>
 * Every failure is a {@link CheckpointException} that names the file.
 */
public final class Checkpoints {

    private Checkpoints() {
    }

    /** Opens a weight file or a directory of weights; see the class comment for what is recognised. */
    public static Checkpoint open(Path fileOrDir) {
        if (Files.isDirectory(fileOrDir)) {
            return openDirectory(fileOrDir);
        }
        if (!Files.isRegularFile(fileOrDir)) {
            throw new CheckpointException("no such checkpoint file or directory: " + fileOrDir);
        }
        String name = fileOrDir.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".safetensors")) {
            return SafetensorsFile.open(fileOrDir);
        }
        if (name.endsWith(".safetensors.index.json")) {
            return ShardedSafetensors.open(fileOrDir);
        }
        if (name.endsWith(".pth") || name.endsWith(".pt") || name.endsWith(".bin")) {
            return PthFile.open(fileOrDir);
        }
        throw new CheckpointException("unrecognised checkpoint file " + fileOrDir
                + ": expected .safetensors, .safetensors.index.json, .pth or .pt");
    }

    private static Checkpoint openDirectory(Path dir) {
        Path single = dir.resolve("model.safetensors");
        if (Files.isRegularFile(single)) {
            return SafetensorsFile.open(single);
        }
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            return ShardedSafetensors.open(index);
        }
        List<Path> safetensors = list(dir, ".safetensors");
        if (safetensors.size() == 1) {
            return SafetensorsFile.open(safetensors.get(0));
        }
        List<Path> pth = list(dir, ".pth", ".pt");
        if (pth.size() == 1 && safetensors.isEmpty()) {
            return PthFile.open(pth.get(0));
        }
        throw new CheckpointException("cannot tell which weights to load from " + dir + ": expected model.safetensors,"
                + " model.safetensors.index.json, or exactly one *.safetensors or *.pth file; found "
                + (safetensors.size() + pth.size() == 0 ? "none" : names(safetensors, pth)));
    }

    private static List<Path> list(Path dir, String... suffixes) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
                        return Arrays.stream(suffixes).anyMatch(n::endsWith);
                    })
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new CheckpointException("cannot list checkpoint directory " + dir + ": " + e, e);
        }
    }

    private static List<String> names(List<Path> a, List<Path> b) {
        List<String> out = new ArrayList<>();
        Stream.concat(a.stream(), b.stream()).forEach(p -> out.add(p.getFileName().toString()));
        return out;
    }

    /**
     * Returns the tensor, checking that it exists and has exactly {@code expectedShape}; otherwise throws a
     * CheckpointException naming the tensor, the expected and the actual shape.
     */
    public static HostTensor require(Checkpoint c, String name, long... expectedShape) {
        if (!c.contains(name)) {
            throw new CheckpointException("missing tensor '" + name + "' in " + describe(c));
        }
        HostTensor t = c.get(name);
        if (!Arrays.equals(t.shape(), expectedShape)) {
            throw new CheckpointException("tensor '" + name + "' in " + describe(c) + " has shape "
                    + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expectedShape));
        }
        return t;
    }

    private static String describe(Checkpoint c) {
        List<Path> files = c.files();
        return files.size() == 1 ? files.get(0).toString() : files.toString();
    }
}
