package io.engram.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import io.engram.testsupport.TestRedis;
import io.engram.testsupport.TestRedisCluster;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
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
 * The Redis store against a real Redis Cluster: three masters ({@code redis-server --cluster-enabled yes}, joined by
 * {@code redis-cli --cluster create}), the server pointed at them with {@code spring.data.redis.cluster.nodes} and
 * nothing else. Every operation goes through HTTP: prime, get, generate from a state, combine, blob export and
 * import, delete and expiry; the keys are looked up on the nodes themselves to check the hash-tag design (a state's
 * blob and metadata in one slot, states spread over the masters). Then a master is killed under traffic and started
 * again: no request hangs, failures are {@code 503 store-unavailable} with Retry-After, no state is ever served
 * other than whole (a generate from it gives the same tokens as before the kill), and service resumes by itself.
 */
class RedisClusterTest {

    static Path models;
    static TestRedisCluster cluster;
    static final String PREFIX = TestRedis.prefix();

    @BeforeAll
    static void setUp() throws Exception {
        models = Files.createTempDirectory("engram-cluster-test");
        OracleModelDir.create(models, "tiny");
        cluster = TestRedisCluster.start(3);
    }

    @AfterAll
    static void tearDown() {
        if (cluster != null) cluster.close();
    }

    static TestApp server(String... more) {
        List<String> o = new ArrayList<>(List.of("engram.store=redis", "spring.data.redis.cluster.nodes=" + cluster.nodes(),
                "engram.redis.key-prefix=" + PREFIX, "spring.data.redis.lettuce.cluster.refresh.period=1s"));
        o.addAll(List.of(more));
        return TestApp.start(models, o.toArray(String[]::new));
    }

    static String blobKey(String id) {
        return PREFIX + "state:{" + id + "}:blob";
    }

    static String metaKey(String id) {
        return PREFIX + "state:{" + id + "}:meta";
    }

    static int[] doc(int i) {
        return new SplittableRandom(100 + i).ints(12, 1, 256).toArray();
    }

    static JsonNode generate(Http h, List<Map<String, Object>> states, int[] prompt) {
        Http.Response r = h.post("/v1/generate", Map.of("states", states, "prompt_tokens", prompt, "max_tokens", 6,
                "temperature", 0));
        assertEquals(200, r.status(), r.body());
        return r.json().get("tokens");
    }

    @Test
    void everyStoreOperationThroughTheCluster() throws Exception {
        // the cluster enforces the rule the store relies on: one script's keys must share a slot
        String crossSlot = cluster.cli(0, "EVAL", "return 1", "2", "engram-a", "engram-b");
        assertTrue(crossSlot.contains("CROSSSLOT") || crossSlot.contains("MOVED"), crossSlot);

        try (TestApp app = server("engram.redis.cache-max-bytes=0")) { // every read goes to the cluster
            Http h = app.http();
            assertEquals(200, h.get("/actuator/health/readiness").status());

            // prime: one atomic EVAL over the two keys of each state; it would fail with CROSSSLOT if their hash
            // tags did not put them in one slot
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                Http.Response r = h.post("/v1/states", Map.of("tokens", doc(i)));
                assertEquals(201, r.status(), r.body());
                ids.add(r.json().get("id").asText());
            }
            Set<Integer> nodesUsed = new HashSet<>();
            for (String id : ids) {
                int node = cluster.nodeOf(blobKey(id));
                assertEquals(node, cluster.nodeOf(metaKey(id)), "blob and metadata of " + id + " in different slots");
                List<String> held = cluster.keys(node, PREFIX + "state:{" + id + "}:*");
                assertEquals(Set.of(blobKey(id), metaKey(id)), new HashSet<>(held), "keys of " + id + " on node " + node);
                nodesUsed.add(node);
            }
            assertTrue(nodesUsed.size() >= 2, "9 states all on one master: the hash tag does not spread them " + nodesUsed);

            // get + generate from a state read back from the cluster equals reading the document from scratch
            int[] prompt = {7, 8, 9};
            for (int i = 0; i < 3; i++) {
                assertEquals(200, h.get("/v1/states/" + ids.get(i)).status());
                int[] d = doc(i);
                int[] all = java.util.stream.IntStream.concat(java.util.Arrays.stream(d), java.util.Arrays.stream(prompt)).toArray();
                assertEquals(generate(h, List.of(), all), generate(h, List.of(Map.of("id", ids.get(i))), prompt),
                        "state " + i + " from the cluster");
            }

            // combine two states living on different masters: the stored combination equals the inline mean
            String a = ids.get(0), b = ids.stream().filter(x -> cluster.nodeOf(blobKey(x)) != cluster.nodeOf(blobKey(ids.get(0))))
                    .findFirst().orElseThrow();
            Http.Response comb = h.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", a, "weight", 0.25),
                    Map.of("id", b, "weight", 0.75))));
            assertEquals(201, comb.status(), comb.body());
            String c = comb.json().get("id").asText();
            int cn = cluster.nodeOf(blobKey(c));
            assertEquals(Set.of(blobKey(c), metaKey(c)), new HashSet<>(cluster.keys(cn, PREFIX + "state:{" + c + "}:*")));
            assertEquals(generate(h, List.of(Map.of("id", a, "weight", 0.25), Map.of("id", b, "weight", 0.75)), prompt),
                    generate(h, List.of(Map.of("id", c)), prompt));

            // export, delete, import: same bytes, id = sha256 of the blob, served again
            Http.BytesResponse blob = h.getBytes("/v1/states/" + ids.get(1) + "/blob");
            assertEquals(200, blob.status());
            JsonNode before = generate(h, List.of(Map.of("id", ids.get(1))), prompt);
            assertEquals(204, h.delete("/v1/states/" + ids.get(1)).status());
            assertEquals(404, h.get("/v1/states/" + ids.get(1)).status());
            assertTrue(cluster.keys(cluster.nodeOf(blobKey(ids.get(1))), PREFIX + "state:{" + ids.get(1) + "}:*").isEmpty(),
                    "DELETE left keys behind");
            Http.Response imp = h.postBytes("/v1/states/import", blob.body());
            assertEquals(201, imp.status(), imp.body());
            String imported = imp.json().get("id").asText();
            assertEquals(StateIds.ofBytes(blob.body()), imported);
            assertNotEquals(ids.get(1), imported);
            assertEquals(before, generate(h, List.of(Map.of("id", imported)), prompt));
            int in = cluster.nodeOf(blobKey(imported));
            assertEquals(Set.of(blobKey(imported), metaKey(imported)),
                    new HashSet<>(cluster.keys(in, PREFIX + "state:{" + imported + "}:*")));

            // expiry: both keys carry the same absolute deadline in Redis, and the state goes away by itself
            Http.Response ttl = h.post("/v1/states", Map.of("tokens", new int[] {5, 5, 5}, "ttl_seconds", 2));
            assertEquals(201, ttl.status(), ttl.body());
            String t = ttl.json().get("id").asText();
            int tn = cluster.nodeOf(blobKey(t));
            long blobAt = Long.parseLong(cluster.cli(tn, "PEXPIRETIME", blobKey(t)).trim());
            long metaAt = Long.parseLong(cluster.cli(tn, "PEXPIRETIME", metaKey(t)).trim());
            assertTrue(blobAt > 0, "blob has no expiry: " + blobAt);
            assertEquals(blobAt, metaAt, "blob and metadata expire at different times");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (h.get("/v1/states/" + t).status() != 404 && System.nanoTime() < deadline) RedisOutageTest.sleep(200);
            assertEquals(404, h.get("/v1/states/" + t).status(), "state with ttl_seconds 2 still served");
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!cluster.keys(tn, PREFIX + "state:{" + t + "}:*").isEmpty() && System.nanoTime() < deadline) RedisOutageTest.sleep(100);
            assertTrue(cluster.keys(tn, PREFIX + "state:{" + t + "}:*").isEmpty(), "expired keys still in Redis");
        }
    }

    @Test
    void masterKilledUnderTrafficAndRestarted() throws Exception {
        try (TestApp app = server()) {
            Http h = app.http();
            int[] prompt = {3, 1, 4};
            // seed states on every master, with their greedy continuation as the reference a whole state must give
            Map<String, JsonNode> expected = new ConcurrentHashMap<>();
            for (int i = 20; i < 29; i++) {
                String id = h.post("/v1/states", Map.of("tokens", doc(i))).json().get("id").asText();
                expected.put(id, generate(h, List.of(Map.of("id", id)), prompt));
            }
            int victim = cluster.nodeOf(blobKey(expected.keySet().iterator().next()));
            List<String> onVictim = expected.keySet().stream().filter(id -> cluster.nodeOf(blobKey(id)) == victim).toList();
            List<String> elsewhere = expected.keySet().stream().filter(id -> cluster.nodeOf(blobKey(id)) != victim).toList();
            assertFalse(elsewhere.isEmpty());
            List<String> seeds = List.copyOf(expected.keySet());

            AtomicBoolean stop = new AtomicBoolean(), restarted = new AtomicBoolean();
            Set<Integer> statuses = ConcurrentHashMap.newKeySet();
            ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
            AtomicInteger unavailable = new AtomicInteger(), okAfter = new AtomicInteger(), served = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            for (int t = 0; t < 4; t++) {
                final int worker = t;
                pool.submit(() -> {
                    SplittableRandom rnd = new SplittableRandom(worker);
                    while (!stop.get()) {
                        String id = seeds.get(rnd.nextInt(seeds.size()));
                        int kind = rnd.nextInt(3);
                        String path = kind == 0 ? "/v1/states" : kind == 1 ? "/v1/generate" : "/v1/states/" + id;
                        String body = switch (kind) {
                            case 0 -> "{\"tokens\": " + java.util.Arrays.toString(rnd.ints(10, 1, 256).toArray()) + "}";
                            case 1 -> "{\"states\": [{\"id\": \"" + id + "\"}], \"prompt_tokens\": [3, 1, 4], \"max_tokens\": 6,"
                                    + " \"temperature\": 0}";
                            default -> null;
                        };
                        HttpRequest.Builder b = HttpRequest.newBuilder(h.uri(path)).timeout(Duration.ofSeconds(20));
                        HttpRequest req = body == null ? b.GET().build()
                                : b.header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
                        try {
                            HttpResponse<String> r = h.client().send(req, HttpResponse.BodyHandlers.ofString());
                            int s = r.statusCode();
                            statuses.add(s);
                            if (s == 503) {
                                unavailable.incrementAndGet();
                                if (!r.body().contains("store-unavailable") || r.headers().firstValue("retry-after").isEmpty()) {
                                    bad.add("503 without store-unavailable/Retry-After: " + r.body());
                                }
                            } else if (s == 404) {
                                // a state that lived on the killed, non-persistent master is gone, never half there
                                if (!r.body().contains("unknown-state") || !onVictim.contains(id)) bad.add(path + " 404: " + r.body());
                            } else if (s == 200 || s == 201) {
                                served.incrementAndGet();
                                if (restarted.get()) okAfter.incrementAndGet();
                                if (kind == 1) {
                                    JsonNode got = Http.JSON.readTree(r.body()).get("tokens");
                                    if (!expected.get(id).equals(got)) bad.add("state " + id + " served partial or corrupt: "
                                            + got + " instead of " + expected.get(id));
                                }
                            } else {
                                bad.add(path + " -> " + s + ": " + r.body());
                            }
                        } catch (Exception e) {
                            bad.add(path + " failed (hung or reset): " + e);
                        }
                    }
                });
            }
            RedisOutageTest.sleep(1500);
            cluster.kill(victim); // SIGKILL one master mid-traffic
            RedisOutageTest.sleep(3000);
            cluster.restart(victim); // rejoins with the same slots, empty
            restarted.set(true);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (okAfter.get() < 20 && System.nanoTime() < deadline) RedisOutageTest.sleep(100);
            stop.set(true);
            pool.shutdown();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "a request hung");
            System.out.printf("cluster master kill: %d served, %d x 503, statuses %s, %d served after the restart%n",
                    served.get(), unavailable.get(), statuses, okAfter.get());

            assertTrue(bad.isEmpty(), "unexpected answers: " + bad);
            assertTrue(unavailable.get() > 0, "the outage was not observed: " + statuses);
            assertTrue(okAfter.get() >= 20, "service did not resume after the master came back: " + statuses);
            // states on the surviving masters are intact; those on the victim are gone as a whole and can be primed again
            for (String id : elsewhere) assertEquals(expected.get(id), generate(h, List.of(Map.of("id", id)), prompt));
            for (String id : onVictim) {
                assertEquals(404, h.get("/v1/states/" + id).status());
                assertTrue(cluster.keys(victim, PREFIX + "state:{" + id + "}:*").isEmpty());
            }
            RedisOutageTest.awaitReady(h, true);
        }
    }
}
