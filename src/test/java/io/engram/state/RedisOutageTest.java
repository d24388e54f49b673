package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import io.engram.testsupport.TestRedis;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Redis outages against a private {@code redis-server} that the test kills and restarts: the server starts without
 * Redis (readiness DOWN, 503 + Retry-After for requests that need the store, everything else served), resumes when
 * Redis comes back with no restart, and under traffic through a kill and restart no request hangs or fails
 * with anything but a clean 503 (or a 404 for a state that died with the non-persistent Redis).
 */
class RedisOutageTest {

    static Path models;

    @BeforeAll
    static void setUp() throws Exception {
        models = Files.createTempDirectory("engram-outage-test");
        OracleModelDir.create(models, "tiny");
    }

    static TestApp server(TestRedis.Server redis) {
        return TestApp.start(models, TestApp.redis(redis.url(), TestRedis.prefix()));
    }

    static void awaitReady(Http h, boolean up) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        String want = up ? "UP" : "DOWN";
        String last = null;
        while (System.nanoTime() < deadline) {
            Http.Response r = h.get("/actuator/health/readiness");
            last = r.body();
            if (r.json().get("status").asText().equals(want)) return;
            sleep(100);
        }
        throw new AssertionError("readiness did not become " + want + ": " + last);
    }

    static void assertUnavailable(Http.Response r) {
        assertEquals(503, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/problem+json"));
        assertEquals("https://engram.dev/problems/store-unavailable", r.json().get("type").asText());
        assertTrue(Integer.parseInt(r.headers().firstValue("retry-after").orElseThrow()) >= 1);
        assertFalse(r.body().contains("Exception"), r.body());
    }

    @Test
    void startsWithoutRedisReportsNotReadyAndResumesWhenRedisArrives() {
        TestRedis.Server redis = new TestRedis.Server(TestRedis.freePort()); // not started yet
        try (TestApp app = server(redis)) {
            Http h = app.http();
            Http.Response ready = h.get("/actuator/health/readiness");
            assertEquals(503, ready.status(), ready.body());
            JsonNode store = ready.json().get("components").get("stateStore");
            assertEquals("DOWN", store.get("status").asText());
            assertEquals("UP", ready.json().get("components").get("models").get("status").asText());
            assertEquals(200, h.get("/actuator/health/liveness").status());

            long t0 = System.nanoTime();
            assertUnavailable(h.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3})));
            assertUnavailable(h.get("/v1/states/" + "a".repeat(64)));
            assertUnavailable(h.delete("/v1/states/" + "a".repeat(64)));
            assertUnavailable(h.post("/v1/generate", Map.of("states", List.of(Map.of("id", "a".repeat(64))), "prompt", "x")));
            assertTrue((System.nanoTime() - t0) / 1e9 < 10, "503s must come fast, not after long waits");
            // what does not need the store still works
            assertEquals(200, h.get("/v1/models").status());
            assertEquals(200, h.post("/v1/generate", Map.of("prompt_tokens", new int[] {1, 2}, "max_tokens", 2,
                    "temperature", 0)).status());

            redis.start();
            awaitReady(h, true);
            Http.Response primed = h.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3}));
            assertEquals(201, primed.status(), primed.body());
            assertEquals(200, h.get("/v1/states/" + primed.json().get("id").asText()).status());
        } finally {
            redis.stop();
        }
    }

    @Test
    void redisKilledAndRestartedUnderTraffic() throws Exception {
        try (TestRedis.Server redis = new TestRedis.Server(TestRedis.freePort()).start(); TestApp app = server(redis)) {
            Http h = app.http();

            String seed = h.post("/v1/states", Map.of("tokens", new int[] {9, 8, 7})).json().get("id").asText();

            AtomicBoolean stop = new AtomicBoolean();
            Set<Integer> statuses = ConcurrentHashMap.newKeySet();
            ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
            AtomicInteger okAfterRestart = new AtomicInteger(), unavailable = new AtomicInteger();
            AtomicBoolean restarted = new AtomicBoolean();
            long[] slowest = {0};
            ExecutorService pool = Executors.newFixedThreadPool(4);
            for (int t = 0; t < 4; t++) {
                final int worker = t;
                pool.submit(() -> {
                    SplittableRandom rnd = new SplittableRandom(worker);
                    String last = seed;
                    while (!stop.get()) {
                        HttpRequest req;
                        int kind = rnd.nextInt(3);
                        String body = switch (kind) {
                            case 0 -> "{\"tokens\": " + java.util.Arrays.toString(rnd.ints(20, 0, 256).toArray()) + "}";
                            case 1 -> "{\"states\": [{\"id\": \"" + last + "\"}], \"prompt_tokens\": [1], \"max_tokens\": 2, \"temperature\": 0}";
                            default -> null;
                        };
                        String path = kind == 0 ? "/v1/states" : kind == 1 ? "/v1/generate" : "/v1/states/" + last;
                        HttpRequest.Builder b = HttpRequest.newBuilder(h.uri(path)).timeout(Duration.ofSeconds(20));
                        req = body == null ? b.GET().build()
                                : b.header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        long t0 = System.nanoTime();
                        try {
                            HttpResponse<String> r = h.client().send(req, HttpResponse.BodyHandlers.ofString());
                            long ms = (System.nanoTime() - t0) / 1_000_000;
                            synchronized (slowest) {
                                slowest[0] = Math.max(slowest[0], ms);
                            }
                            int s = r.statusCode();
                            statuses.add(s);
                            if (s == 503) {
                                unavailable.incrementAndGet();
                                if (!r.body().contains("store-unavailable") || r.headers().firstValue("retry-after").isEmpty()) {
                                    bad.add("503 without store-unavailable/Retry-After: " + r.body());
                                }
                            } else if (s == 404) {
                                if (!r.body().contains("unknown-state")) bad.add("404: " + r.body());
                            } else if (s != 200 && s != 201) {
                                bad.add(path + " -> " + s + ": " + r.body());
                            } else {
                                if (restarted.get()) okAfterRestart.incrementAndGet();
                                if (kind == 0) last = Http.JSON.readTree(r.body()).get("id").asText();
                            }
                        } catch (Exception e) {
                            bad.add(path + " failed: " + e);
                        }
                    }
                });
            }
            sleep(1500);
            redis.stop(); // SIGKILL, mid-traffic
            sleep(2000);
            redis.start(); // empty again: states from before are gone (404), new ones work
            restarted.set(true);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (okAfterRestart.get() < 10 && System.nanoTime() < deadline) sleep(100);
            long resumedMs = (System.nanoTime() - deadline) / 1_000_000 + 15_000;
            stop.set(true);
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "a request hung");


            System.out.printf("outage: %d x 503, statuses %s, 10 successes %d ms after the restart, slowest %d ms%n",
                    unavailable.get(), statuses, resumedMs, slowest[0]);
            assertTrue(bad.isEmpty(), "unexpected answers: " + bad);
            assertTrue(unavailable.get() > 0, "the outage was not observed: " + statuses);
            assertTrue(okAfterRestart.get() >= 10, "service did not resume after Redis came back: " + statuses);
            // Redis commands time out after 2 s; the rest is CPU contention on a small machine. A hang would hit the
            // client's 20 s timeout and show up in 'bad'.
            assertTrue(slowest[0] < 12_000, "slowest request took " + slowest[0] + " ms (Redis timeout is 2 s)");
            awaitReady(h, true);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
