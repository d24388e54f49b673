package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import io.engram.testsupport.TestRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import tools.jackson.databind.JsonNode;

/**
 * Whole servers on {@code engram.store=redis} against a real Redis: states outlive a restart of the application,
 * replicas share them (same ids, deletes honoured by every replica's cache at once), and concurrent primes of one
 * document compute it once.
 */
class StatePersistenceTest {

    static Path models;
    static String url;
    static String prefix;

    @BeforeAll
    static void setUp() throws Exception {
        models = Files.createTempDirectory("engram-persist-test");
        OracleModelDir.create(models, "tiny");
        url = TestRedis.url();
        prefix = TestRedis.prefix();
    }

    @AfterAll
    static void clean() {
        LettuceConnectionFactory f = TestRedis.connect(url);
        TestRedis.clean(f, prefix);
        f.destroy();
    }

    static TestApp server() {
        return TestApp.start(models, TestApp.redis(url, prefix));
    }

    static int[] doc(long seed, int n) {
        return new SplittableRandom(seed).ints(n, 0, 256).toArray();
    }

    static Map<String, Object> ask(String id) {
        return Map.of("states", List.of(Map.of("id", id)), "prompt_tokens", new int[] {1, 2}, "max_tokens", 6,
                "temperature", 0, "logprobs", 3);
    }

    static JsonNode generate(Http h, String id) {
        Http.Response r = h.post("/v1/generate", ask(id));
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    @Test
    void statesPersistAcrossAnApplicationRestartAndAreSharedByReplicas() {
        int[] d = doc(7, 30);
        String id;
        JsonNode before;
        String combined;
        try (TestApp one = server(); TestApp two = server()) {
            Http h1 = one.http(), h2 = two.http();
            Http.Response r = h1.post("/v1/states", Map.of("tokens", d, "ttl_seconds", 3600));
            assertEquals(201, r.status(), r.body());
            id = r.json().get("id").asText();
            before = generate(h1, id);

            // a replica computes the same id for the same document and finds it already there
            Http.Response same = h2.post("/v1/states", Map.of("tokens", d));
            assertEquals(200, same.status(), same.body());
            assertEquals(id, same.json().get("id").asText());
            assertEquals(r.json().get("created_at").asText(), same.json().get("created_at").asText());
            assertEquals(before.get("logprobs").toString(), generate(h2, id).get("logprobs").toString());

            // a delete on one replica is honoured by the other's cache as soon as it returns
            String other = h1.post("/v1/states", Map.of("tokens", doc(8, 12))).json().get("id").asText();
            generate(h2, other); // now in replica two's cache
            assertEquals(204, h1.delete("/v1/states/" + other).status());
            assertEquals(404, h2.get("/v1/states/" + other).status());
            assertEquals(404, h2.post("/v1/generate", ask(other)).status());

            combined = h1.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", id, "weight", 1),
                    Map.of("id", h1.post("/v1/states", Map.of("tokens", doc(9, 10))).json().get("id").asText(), "weight", 2))))
                    .json().get("id").asText();
            assertEquals("UP", h1.get("/actuator/health/readiness").json().get("components").get("stateStore").get("status").asText());
            // Spring's connection carries Engram's settings: fail fast while disconnected, 2 s command timeout
            var lettuce = one.bean(LettuceConnectionFactory.class).getClientConfiguration();
            assertEquals(io.lettuce.core.ClientOptions.DisconnectedBehavior.REJECT_COMMANDS,
                    lettuce.getClientOptions().orElseThrow().getDisconnectedBehavior());
            assertEquals(java.time.Duration.ofSeconds(2), lettuce.getCommandTimeout());
        }
        // both servers are gone; a new one finds the states in Redis
        try (TestApp three = server()) {
            Http h = three.http();
            JsonNode meta = h.get("/v1/states/" + id).json();
            assertEquals(id, meta.get("id").asText());
            assertEquals(30, meta.get("tokens").asInt());
            assertEquals("primed", meta.get("kind").asText());
            assertEquals(before.get("tokens").toString(), generate(h, id).get("tokens").toString());
            assertEquals(before.get("logprobs").toString(), generate(h, id).get("logprobs").toString());
            assertEquals(200, h.get("/v1/states/" + combined).status());
            assertEquals("combined", h.get("/v1/states/" + combined).json().get("kind").asText());
            JsonNode health = h.get("/actuator/health/readiness").json().get("components").get("stateStore");
            assertEquals("redis", health.get("details").get("kind").asText());
        }
    }

    @Test
    void concurrentPrimesOfOneDocumentComputeItOnce() throws Exception {
        try (TestApp app = server()) {
            Http h = app.http();
            for (int round = 0; round < 3; round++) {
                int[] d = doc(1000 + round, 600); // long enough that all requests arrive while it is computed
                ExecutorService pool = Executors.newFixedThreadPool(8);
                try {
                    List<Callable<Http.Response>> calls = new ArrayList<>();
                    for (int i = 0; i < 8; i++) calls.add(() -> h.post("/v1/states", Map.of("tokens", d)));
                    List<Integer> statuses = new ArrayList<>();
                    String id = null;
                    for (Future<Http.Response> f : pool.invokeAll(calls)) {
                        Http.Response r = f.get();
                        statuses.add(r.status());
                        if (id == null) id = r.json().get("id").asText();
                        assertEquals(id, r.json().get("id").asText());
                    }
                    assertEquals(1, statuses.stream().filter(s -> s == 201).count(), "computed once: " + statuses);
                    assertEquals(7, statuses.stream().filter(s -> s == 200).count(), statuses.toString());
                } finally {
                    pool.shutdownNow();
                }
            }
        }
    }
}
