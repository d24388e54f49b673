package io.engram.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The read-only fixtures in {@code ../shared} (oracle vectors, vocabulary) and tolerance checks. */
public final class Fixtures {

    private Fixtures() {}

    /**
     * The device the model tests build their models on: {@code ENGRAM_TEST_DEVICE} = cpu (the default), cuda or
     * cuda:N. {@code scripts/gpu-check.sh} sets it to run the oracle tests on a GPU.
     */
    public static ai.djl.Device device() {
        String d = System.getenv().getOrDefault("ENGRAM_TEST_DEVICE", "cpu");
        if (d.equals("cpu")) return ai.djl.Device.cpu();
        return ai.djl.Device.gpu(d.startsWith("cuda:") ? Integer.parseInt(d.substring(5)) : 0);
    }

    public static Path shared(String relative) {
        Path p = Path.of(System.getProperty("engram.shared-dir", "../shared")).resolve(relative);
        assertTrue(Files.exists(p), "missing fixture " + p.toAbsolutePath() + " (the tests need ../shared)");
        return p;
    }

    public static JsonNode json(String relative) {
        return JsonMapper.builder().build().readTree(shared(relative).toFile());
    }

    public static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    /** The oracle's tolerance: |got - want| <= 1e-4 + 1e-4 * max|want|, per tensor. */
    public static void assertClose(String what, float[] want, float[] got) {
        assertEquals(want.length, got.length, what + ": length");
        float maxAbs = 0;
        for (float w : want) maxAbs = Math.max(maxAbs, Math.abs(w));
        double tol = 1e-4 + 1e-4 * maxAbs;
        double worst = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(got[i] - want[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        assertTrue(worst <= tol, what + ": max |got-want| = " + worst + " at " + at + " (want " + (at < 0 ? 0 : want[at])
                + ", got " + (at < 0 ? 0 : got[at]) + ") exceeds " + tol);
    }

    public static float[] row(float[] matrix, int cols, int r) {
        return java.util.Arrays.copyOfRange(matrix, r * cols, (r + 1) * cols);
    }

    public static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    /**
     * Runs {@code build} with {@code -Dengram.cpu.java-chunks} set to {@code javaChunks} (an RWKV-7 model reads it
     * when built), so a test covers both the Java and the libtorch chunk products whatever this CPU's default.
     */
    public static <T> T withJavaChunks(boolean javaChunks, java.util.function.Supplier<T> build) {
        String key = "engram.cpu.java-chunks", before = System.getProperty(key);
        System.setProperty(key, Boolean.toString(javaChunks));
        try {
            return build.get();
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }
}
