package io.engram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * What the Dockerfiles do, minus Docker (there is no engine here): the jar that `mvn package` built, the image's
 * warmup step, its ENTRYPOINT and ENV, read from the Dockerfile itself, and its HEALTHCHECK script. The server
 * must find libtorch where warmup left it: it neither unpacks nor downloads anything, and the cache is unchanged.
 */
class ImageStartIT {

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path JAR = Path.of(System.getProperty("engram.jar", "target/engram.jar"));

    /** The parts of a Dockerfile's final stage the test replays. */
    record Image(List<String> entrypoint, Map<String, String> env, List<String> warmup, String healthcheck, String user) {

        static Image parse(Path dockerfile) throws IOException {
            String text = Files.readString(dockerfile).replace("\\\n", " ");
            String last = text.substring(text.lastIndexOf("\nFROM "));
            List<String> entry = jsonArray(find(last, "(?m)^ENTRYPOINT\\s+(\\[.*])"));
            Map<String, String> env = new LinkedHashMap<>();
            Matcher m = Pattern.compile("(?m)^ENV\\s+(.*)$").matcher(last);
            while (m.find()) {
                Matcher kv = Pattern.compile("(\\w+)=(\\S+)").matcher(m.group(1));
                while (kv.find()) env.put(kv.group(1), kv.group(2));
            }
            Matcher w = Pattern.compile("(?m)^RUN\\s+(java .* warmup)").matcher(text);
            List<String> warmup = w.find() ? List.of(w.group(1).trim().split("\\s+")) : List.of();
            return new Image(entry, env, warmup, find(last, "(?m)^HEALTHCHECK\\s+.*CMD\\s+(\\[.*])"),
                    find(last, "(?m)^USER\\s+(\\S+)"));
        }

        static String find(String text, String regex) {
            Matcher m = Pattern.compile(regex).matcher(text);
            return m.find() ? m.group(1) : null;
        }

        static List<String> jsonArray(String json) {
            List<String> out = new ArrayList<>();
            Http.JSON.readTree(json).forEach(n -> out.add(n.asText()));
            return out;
        }
    }

    @Test
    void theJarStartsWithTheImagesCommandOfflineFromAPreparedCacheAndStopsGracefully() throws Exception {
        assertTrue(Files.isRegularFile(JAR), "missing " + JAR + ": the IT runs after `mvn package`");
        Image image = Image.parse(ROOT.resolve("Dockerfile"));
        assertEquals("java", image.entrypoint().get(0));
        assertTrue(image.entrypoint().contains("--add-modules") && image.entrypoint().contains("jdk.incubator.vector"));
        assertNotEquals(null, image.user());
        assertFalse(image.user().startsWith("0") || image.user().startsWith("root"), "the image must not run as root");
        assertEquals("[\"/app/healthcheck.sh\"]", image.healthcheck());

        Path tmp = Files.createTempDirectory("engram-image-it");
        Path cache = tmp.resolve("djl");
        Path models = tmp.resolve("models");
        OracleModelDir.create(models, "tiny");
        Map<String, String> env = new LinkedHashMap<>(image.env());
        env.put("DJL_CACHE_DIR", cache.toString());
        env.put("ENGRAM_MODELS_DIR", models.toString());
        int port = freePort();
        env.put("SERVER_PORT", String.valueOf(port));

        // the build-time step: unpack libtorch into the cache
        List<String> warmup = swapJar(image.warmup());
        assertFalse(warmup.isEmpty(), "the Dockerfile must run `engram.jar warmup` at build time");
        ProcessResult w = run(warmup, env, tmp.resolve("warmup.log"), 120);
        assertEquals(0, w.exit(), w.log());
        assertTrue(w.log().contains("libtorch 2.7.1 ready"), w.log());
        try (Stream<Path> s = Files.walk(cache)) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().equals("libtorch.so")), "libtorch.so not unpacked");
        }
        Map<String, String> cacheBefore = snapshot(cache);
        {
            Path log = tmp.resolve("server.log");
            Process server = start(swapJar(image.entrypoint()), env, log);
            try {
                Http http = new Http(port);
                waitReady(http, server, log);
                // the image's HEALTHCHECK command, as Docker would run it
                ProcessResult hc = run(List.of(ROOT.resolve("deploy/docker/healthcheck.sh").toString()), env,
                        tmp.resolve("hc.log"), 20);
                assertEquals(0, hc.exit(), "healthcheck.sh: " + hc.log());
                JsonNode g = http.post("/v1/generate", Map.of("prompt", "Hi", "max_tokens", 3, "temperature", 0)).json();
                assertEquals(3, g.get("tokens").size(), g.toString());
                assertTrue(http.get("/actuator/prometheus").body().contains("engram_generation_tokens_total"));
                String startLog = Files.readString(log);
                assertFalse(startLog.contains("Extracting"), "the server unpacked libtorch again:\n" + startLog);
                assertFalse(startLog.contains("Downloading"), startLog);
            } finally {
                server.destroy(); // SIGTERM, as `docker stop` sends
                assertTrue(server.waitFor(60, TimeUnit.SECONDS), "no exit within 60 s of SIGTERM");
            }
            String all = Files.readString(log);
            assertTrue(all.contains("Shutting down: readiness DOWN"), all);
            assertTrue(all.contains("Graceful shutdown complete"), all);
            // healthcheck fails once the server is gone
            assertNotEquals(0, run(List.of(ROOT.resolve("deploy/docker/healthcheck.sh").toString()), env,
                    tmp.resolve("hc2.log"), 20).exit());
        }
        assertEquals(cacheBefore, snapshot(cache), "the server changed the libtorch cache");
    }

    @Test
    void theCudaImageRunsTheSameCommandOnTheCudaLibtorch() throws IOException {
        Image cpu = Image.parse(ROOT.resolve("Dockerfile"));
        Image gpu = Image.parse(ROOT.resolve("Dockerfile.cuda"));
        assertEquals(cpu.entrypoint(), gpu.entrypoint());
        assertEquals(cpu.healthcheck(), gpu.healthcheck());
        assertEquals(cpu.user(), gpu.user());
        assertEquals("cu128", gpu.env().get("PYTORCH_FLAVOR"));
        assertEquals("cuda", gpu.env().get("ENGRAM_DEVICE"));
        assertEquals("true", gpu.env().get("DJL_OFFLINE"));
        assertTrue(gpu.warmup().contains("-Dai.djl.offline=false"), "the GPU image fetches libtorch cu128 at build time");
        String text = Files.readString(ROOT.resolve("Dockerfile.cuda"));
        assertTrue(text.contains("-Dengram.cuda package"), "the GPU jar leaves the CPU libtorch out");
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        assertTrue(pom.contains("<name>engram.cuda</name>") && pom.contains("<artifactId>pytorch-native-cpu</artifactId>"));
    }

    static List<String> swapJar(List<String> cmd) {
        List<String> out = new ArrayList<>();
        for (String a : cmd) out.add(a.equals("/app/engram.jar") ? JAR.toString() : a);
        return out;
    }

    record ProcessResult(int exit, String log) {}

    static Process start(List<String> cmd, Map<String, String> env, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    static ProcessResult run(List<String> cmd, Map<String, String> env, Path log, int timeoutS) throws Exception {
        Process p = start(cmd, env, log);
        if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new ProcessResult(-1, "timed out: " + Files.readString(log));
        }
        return new ProcessResult(p.exitValue(), Files.readString(log));
    }

    static void waitReady(Http http, Process server, Path log) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < until) {
            if (!server.isAlive()) throw new AssertionError("the server exited:\n" + Files.readString(log));
            try {
                if (http.get("/actuator/health/readiness").status() == 200) return;
            } catch (AssertionError notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not ready within 120 s:\n" + Files.readString(log));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Every file under {@code root} with its size and modification time. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> out = new java.util.TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                out.put(root.relativize(p).toString(), Files.size(p) + "@" + Files.getLastModifiedTime(p).toMillis());
            }
        }
        return out;
    }
}
