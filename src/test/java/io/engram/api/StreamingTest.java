package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.scheduler.DeviceScheduler;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** Streams whose client goes away, or never reads, leave the batch and free their state. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class StreamingTest {

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws Exception {
        Path models = Files.createTempDirectory("engram-stream-test");
        OracleModelDir.create(models, "tiny");
        r.add("engram.models-dir", models::toString);
        r.add("engram.limits.max-tokens", () -> "1000000");
    }

    @Autowired
    Environment env;
    @Autowired
    DeviceScheduler scheduler;

    int port() {
        return Integer.parseInt(env.getProperty("local.server.port"));
    }

    @Test
    void disconnectingClientLeavesTheBatch() throws Exception {
        try (Socket socket = open(port())) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            int events = 0;
            for (String line; events < 20 && (line = in.readLine()) != null; ) if (line.startsWith("event: token")) events++;
            assertEquals(20, events);
            assertEquals(1, scheduler.running(), "the stream is running while we read");
        }
        awaitIdle("after the client disconnected");
    }

    @Test
    void clientThatNeverReadsIsDroppedNotBufferedWithoutBound() throws Exception {
        try (Socket socket = open(port())) {
            socket.setReceiveBufferSize(4096);
            waitUntil(() -> scheduler.running() == 1, "the stream started");
            // never read: the server's buffer fills and the sequence is dropped
            awaitIdle("while the client never read");
        }
    }

    @Test
    void concurrentGreedyGenerationsMatchTheSameRequestsOneAtATime() throws Exception {
        Http http = new Http(port());
        int n = 8;
        List<Map<String, Object>> bodies = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] prompt = new java.util.Random(i).ints(1 + 5 * i, 0, 256).toArray(); // short and long prompts
            bodies.add(Map.of("prompt_tokens", prompt, "max_tokens", 150, "temperature", 0));
        }
        List<String> alone = new java.util.ArrayList<>();
        for (var b : bodies) alone.add(http.post("/v1/generate", b).json().get("tokens").toString());
        var pool = java.util.concurrent.Executors.newFixedThreadPool(n);
        try {
            List<java.util.concurrent.Future<String>> together = new java.util.ArrayList<>();
            for (var b : bodies) together.add(pool.submit(() -> http.post("/v1/generate", b).json().get("tokens").toString()));
            for (int i = 0; i < n; i++) assertEquals(alone.get(i), together.get(i).get(), "request " + i);
        } finally {
            pool.shutdown();
        }
    }

    private void awaitIdle(String when) throws InterruptedException {
        waitUntil(() -> scheduler.running() == 0, "running count drops to 0 " + when);
        // and the server still serves
        assertEquals(200, new Http(port()).get("/v1/models").status());
    }

    private static void waitUntil(java.util.function.BooleanSupplier c, String what) throws InterruptedException {
        long end = System.nanoTime() + 20_000_000_000L;
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out waiting: " + what);
            Thread.sleep(10);
        }
    }

    /** A raw HTTP/1.1 request for a long stream, so the test controls exactly when it reads or closes. */
    private static Socket open(int port) throws Exception {
        String body = Http.JSON.writeValueAsString(Map.of("prompt_tokens", List.of(1, 2, 3), "max_tokens", 1_000_000,
                "temperature", 1.0, "seed", 1, "stream", true));
        Socket s = new Socket("127.0.0.1", port);
        OutputStream out = s.getOutputStream();
        out.write(("POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
        out.flush();
        return s;
    }
}
