package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.TestApp;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * examples/rag-java, the stand-alone Maven project a user copies, built offline ({@code mvn -o}: it has no
 * dependencies, and its plugins are the versions this build has just used, so this runs after {@code package}) and
 * run against a running Engram serving the demo model, on the example's three demo documents. Its answers must be
 * {@code /v1/generate}'s greedy answers from the picked document's state; its cache must prime a file only once,
 * and again when the file changes.
 */
class RagJavaExampleIT {

    static final Path EXAMPLE = Path.of("examples/rag-java").toAbsolutePath();

    static TestApp app;
    static Http http;
    /** This test's copy of the three demo documents (and so its own state-id cache). */
    Path docs;

    @org.junit.jupiter.api.BeforeEach
    void copyDocs() throws Exception {
        docs = Files.createTempDirectory("engram-rag-docs");
        try (Stream<Path> s = Files.list(EXAMPLE.resolve("demo-docs"))) {
            for (Path p : s.toList()) Files.copy(p, docs.resolve(p.getFileName()));
        }
    }

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-rag-example");
        Path demo = Files.createDirectories(models.resolve("demo"));
        for (String f : List.of("config.json", "model.safetensors", "rwkv_vocab_v20230424.txt")) {
            Files.copy(Path.of("models/demo", f), demo.resolve(f));
        }
        app = TestApp.start(models);
        http = app.http();
        List<String> mvn = new ArrayList<>(List.of("mvn", "-o", "-q", "-B", "-f", EXAMPLE.resolve("pom.xml").toString()));
        String repo = System.getProperty("engram.maven-repo"); // this build's local repository, when run by failsafe
        if (repo != null && !repo.isBlank()) mvn.add("-Dmaven.repo.local=" + repo);
        mvn.add("package");
        Run build = run(EXAMPLE.toFile(), 300, mvn.toArray(String[]::new));
        assertEquals(0, build.rc(), "examples/rag-java does not build offline:\n" + build.out() + build.err());
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    record Run(int rc, String out, String err) {}

    Run rag(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", EXAMPLE.resolve("target/rag.jar").toString(), "--server", http.uri("").toString(),
                "--docs", docs.toString()));
        cmd.addAll(List.of(args));
        return run(EXAMPLE.toFile(), 120, cmd.toArray(String[]::new));
    }

    static Run run(File dir, int timeoutS, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir).start();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getErrorStream().readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(timeoutS, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err.get(), StandardCharsets.UTF_8));
    }

    /** Greedy {@code /v1/generate} from one document's state, on the demo chat template's rendering. */
    static String direct(String document, String question) {
        String id = http.post("/v1/states", Map.of("text", document)).json().get("id").asText();
        Http.Response r = http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)),
                "prompt", "\nQ: " + question + " A:", "max_tokens", 16, "temperature", 0, "stop", List.of(".")));
        assertEquals(200, r.status(), r.body());
        return r.json().get("text").asText();
    }

    @Test
    void theExampleAnswersFromTheRightDocumentAndPrimesEachFileOnce() throws Exception {
        Run first = rag("--question", "What is the code of Zorbel?");
        assertEquals(0, first.rc(), first.err());
        assertTrue(first.err().contains("primed 3, cached 0"), first.err());
        assertTrue(first.err().contains("answering from zorbel.txt"), first.err());
        String zorbel = direct(Files.readString(docs.resolve("zorbel.txt")), "What is the code of Zorbel?");
        assertEquals(zorbel, first.out().stripTrailing(), first.err());
        assertTrue(zorbel.contains("4417"), "the demo model reads one document's fact: " + zorbel);

        Run second = rag("--question", "What is the capital of Lundun?");
        assertEquals(0, second.rc(), second.err());
        assertTrue(second.err().contains("primed 0, cached 3"), second.err());
        assertTrue(second.err().contains("answering from lundun.txt"), second.err());
        assertEquals(direct(Files.readString(docs.resolve("lundun.txt")), "What is the capital of Lundun?"),
                second.out().stripTrailing());

        // a changed file is primed again, and only that one
        Files.writeString(docs.resolve("marfen.txt"), "The code of Marfen is 6130.\n");
        Run third = rag("--question", "What is the code of Marfen?");
        assertEquals(0, third.rc(), third.err());
        assertTrue(third.err().contains("primed 1, cached 2"), third.err());
        assertTrue(third.err().contains("answering from marfen.txt"), third.err());
        String marfen = direct("The code of Marfen is 6130.\n", "What is the code of Marfen?");
        assertEquals(marfen, third.out().stripTrailing());
        assertTrue(marfen.contains("6130"), marfen);
    }

    @Test
    void aServerErrorIsPrintedAsItsProblemDetail() throws Exception {
        // a model the server does not serve: Engram's 4xx problem detail, exit status 1, no stack trace
        Run r = rag("--question", "What is the code of Zorbel?", "--model", "no-such-model");
        assertEquals(1, r.rc(), r.out() + r.err());
        assertTrue(r.err().contains("\nerror: 404 No such model: "), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }
}
