package io.engram.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images' DJL cache is prepared at build time ({@code engram.jar warmup}) and read-only at run time. The
 * {@code hf} tokenizer's native library must be part of what warmup leaves there: a fresh JVM pointed at the warmed,
 * read-only cache (and offline) loads an {@code hf} tokenizer and encodes with it, and the cache is unchanged
 * (nothing copied into it on first use). Both steps run in child JVMs, as the image runs them.
 */
class HfWarmCacheTest {

    @TempDir Path dir;

    @Test
    void anHfTokenizerLoadsFromTheWarmedReadOnlyCacheWithoutWritingToIt() throws Exception {
        Path cache = dir.resolve("djl-cache");
        Map<String, String> env = Map.of("DJL_CACHE_DIR", cache.toString(), "DJL_OFFLINE", "true");
        Result warm = java(env, "io.engram.cli.Main", "warmup");
        assertEquals(0, warm.exit, warm.output);
        Map<String, String> before = snapshot(cache);
        assertTrue(before.keySet().stream().anyMatch(p -> p.startsWith("tokenizers/") && p.endsWith("libtokenizers.so")),
                "warmup leaves the tokenizers library in the cache: " + before.keySet());
        readOnly(cache);
        try {
            Path json = Files.writeString(dir.resolve("tokenizer.json"), HfTokenizerTest.WORD_LEVEL_JSON);
            Result probe = java(env, Probe.class.getName(), json.toString(), "hello world");
            assertEquals(0, probe.exit, probe.output);
            assertTrue(probe.output.contains("ids "), probe.output);
            assertEquals(before, snapshot(cache), "the cache is unchanged by a run");
        } finally {
            writable(cache);
        }
    }

    /** Child JVM entry point: loads a tokenizer.json and prints the ids of a text. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            try (HfTokenizer t = HfTokenizer.load(Path.of(args[0]))) {
                System.out.println("ids " + java.util.Arrays.toString(t.encode(args[1])));
            }
        }
    }

    record Result(int exit, String output) {}

    private Result java(Map<String, String> env, String main, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Path log = Files.createTempFile(dir, "child", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(-1, "timed out: " + Files.readString(log));
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    /** Every file under {@code root}: relative path to size and modification time. */
    private static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                out.put(root.relativize(p).toString().replace('\\', '/'),
                        Files.isDirectory(p) ? "dir" : Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis());
            }
        }
        return out;
    }

    private static void readOnly(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
                perms.removeAll(Set.of(PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE));
                Files.setPosixFilePermissions(p, perms);
            }
        }
    }

    private static void writable(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
                perms.add(PosixFilePermission.OWNER_WRITE);
                Files.setPosixFilePermissions(p, perms);
            }
        }
    }
}
