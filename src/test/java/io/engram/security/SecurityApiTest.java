package io.engram.security;

import static io.engram.testsupport.ProblemAsserts.assertProblem;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.engram.state.StateIds;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

/**
 * Authentication, tenant isolation, rate limits, request limits, CORS and access logs over real HTTP, on one server
 * with keys for four tenants (two with their own small limits) and one with authentication off.
 */
class SecurityApiTest {

    static final String ALICE = "alice-key-0123456789abcdef";
    static final String BOB = "bob-key-0123456789abcdef0123";
    static final String BURST = "burst-key-0123456789abcdef";
    static final String FRUGAL = "frugal-key-0123456789abcdef";

    static TestApp app, open;
    static Http anon, alice, bob, openHttp;
    static Path models, keyFile;

    @BeforeAll
    static void start() throws Exception {
        models = Files.createTempDirectory("engram-security-test");
        OracleModelDir.create(models, "tiny");
        // bob's key comes from a mounted-Secret-style file, the others from the property
        keyFile = Files.createTempFile("engram-keys", ".txt");
        Files.writeString(keyFile, "# tenant:key per line\nbob:" + BOB + "\n");
        app = TestApp.start(models,
                "engram.security.api-keys=alice:" + ALICE + ",burst:" + BURST + ", frugal:" + FRUGAL,
                "engram.security.api-keys-file=" + keyFile,
                "engram.security.rate-limit.tenants.burst.requests-per-second=3",
                "engram.security.rate-limit.tenants.frugal.tokens-per-minute=60",
                // alice makes most of this class's calls and must never meet the default 50/s (0 = off): a fast machine
                // running the malformed-body and limit tests back to back would otherwise see her 429 before routing
                "engram.security.rate-limit.tenants.alice.requests-per-second=0",
                "engram.security.cors.allowed-origins=https://app.example",
                "engram.limits.max-body-bytes=65536",
                "engram.limits.max-tokens=32",
                "logging.level.engram.access=INFO");
        open = TestApp.start(models);
        anon = app.http();
        alice = anon.withKey(ALICE);
        bob = anon.withKey(BOB);
        openHttp = open.http();
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
        if (open != null) open.close();
    }

    static int[] doc(long seed, int n) {
        return new SplittableRandom(seed).ints(n, 0, 256).toArray();
    }

    static String prime(Http h, int[] tokens) {
        Http.Response r = h.post("/v1/states", Map.of("tokens", tokens));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    // ------------------------------------------------------------------------------------------ authentication

    @Test
    void withoutAKeyOrWithAWrongOneEveryApiAnswers401() {
        for (Http h : List.of(anon, anon.withKey("wrong-key-0123456789abcdef"), anon.withKey(ALICE + "x"),
                anon.withKey(ALICE.substring(1)))) {
            for (Http.Response r : List.of(h.get("/v1/models"), h.post("/v1/tokenize", Map.of("text", "hi")),
                    h.post("/v1/states", Map.of("tokens", new int[] {1})), h.get("/v1/states/" + "a".repeat(64)),
                    h.delete("/v1/states/" + "a".repeat(64)), h.post("/v1/generate", Map.of("prompt", "x")),
                    h.post("/v1/chat/completions", Map.of("messages", List.of())), h.get("/nowhere"),
                    h.get("/actuator/prometheus"), h.get("/actuator/health"), h.get("/actuator/metrics"))) {
                assertProblem(r, 401, "unauthorized");
                assertTrue(r.headers().firstValue("www-authenticate").orElse("").startsWith("Bearer"), r.headers().toString());
            }
        }
        // other schemes and empty bearers are no key at all
        for (String header : List.of("Basic " + ALICE, "Bearer", "Bearer    ", ALICE, "bearer" + ALICE)) {
            Http.Response r = anon.send(anon.request("/v1/models").header("authorization", header).GET().build());
            assertProblem(r, 401, "unauthorized");
        }
        // the scheme is case-insensitive (RFC 7235)
        assertEquals(200, anon.send(anon.request("/v1/models").header("authorization", "bearer " + ALICE).GET().build()).status());
        assertEquals(200, alice.get("/v1/models").status());
        assertEquals(200, bob.get("/v1/models").status());
    }

    @Test
    void probesStayOpenAndMetricsNeedAKey() {
        assertEquals(200, anon.get("/actuator/health/liveness").status());
        assertEquals(200, anon.get("/actuator/health/readiness").status());
        Http.Response metrics = alice.get("/actuator/prometheus");
        assertEquals(200, metrics.status());
        assertTrue(metrics.body().contains("jvm_"), "prometheus text");
    }

    // ------------------------------------------------------------------------------------------ tenants

    @Test
    void aTenantsStatesAreInvisibleToAnotherOnEveryVerb() {
        int[] d = doc(1, 24);
        String a = prime(alice, d);
        String missing = StateIds.primed("nobody", "x", null, new int[] {1});
        Map<String, Object> gen = Map.of("states", List.of(Map.of("id", a)), "prompt_tokens", new int[] {1, 2},
                "max_tokens", 2, "temperature", 0);

        // bob gets exactly what a missing state gets: same status, type, title, and detail but for the id
        List<Http.Response> bobs = List.of(
                bob.get("/v1/states/" + a),
                bob.delete("/v1/states/" + a),
                bob.get("/v1/states/" + a + "/blob"),
                bob.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", a, "weight", 1)))),
                bob.post("/v1/generate", gen),
                bob.post("/v1/generate", Map.of("states", List.of(Map.of("id", a)), "prompt", "x", "stream", true)),
                bob.post("/v1/states", Map.of("tokens", new int[] {7, 8}, "parent", a)),
                bob.post("/v1/completions", Map.of("states", List.of(Map.of("id", a)), "prompt", "x", "max_tokens", 2)),
                bob.post("/v1/chat/completions", Map.of("states", List.of(Map.of("id", a)),
                        "messages", List.of(Map.of("role", "user", "content", "hi")), "max_tokens", 2)));
        List<Http.Response> missings = List.of(
                alice.get("/v1/states/" + missing),
                alice.delete("/v1/states/" + missing),
                alice.get("/v1/states/" + missing + "/blob"),
                alice.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", missing, "weight", 1)))),
                alice.post("/v1/generate", Map.of("states", List.of(Map.of("id", missing)), "prompt_tokens", new int[] {1, 2},
                        "max_tokens", 2, "temperature", 0)),
                alice.post("/v1/generate", Map.of("states", List.of(Map.of("id", missing)), "prompt", "x", "stream", true)),
                alice.post("/v1/states", Map.of("tokens", new int[] {7, 8}, "parent", missing)),
                alice.post("/v1/completions", Map.of("states", List.of(Map.of("id", missing)), "prompt", "x", "max_tokens", 2)),
                alice.post("/v1/chat/completions", Map.of("states", List.of(Map.of("id", missing)),
                        "messages", List.of(Map.of("role", "user", "content", "hi")), "max_tokens", 2)));
        for (int i = 0; i < bobs.size(); i++) {
            Http.Response b = bobs.get(i), m = missings.get(i);
            assertProblem(b, 404, "unknown-state");
            assertProblem(m, 404, "unknown-state");
            JsonNode bp = b.json(), mp = m.json();
            assertEquals(mp.get("title"), bp.get("title"));
            assertEquals(mp.get("detail").asText().replace(missing, "<id>"), bp.get("detail").asText().replace(a, "<id>"), "verb " + i);
            assertEquals(m.headers().map().keySet(), b.headers().map().keySet(), "verb " + i + " headers");
        }
        // batch: the document with bob's foreign parent fails alone, like a missing parent
        JsonNode batch = bob.post("/v1/states/batch", Map.of("documents", List.of(
                Map.of("tokens", new int[] {1}, "parent", a), Map.of("tokens", new int[] {2})))).json().get("results");
        assertEquals("https://engram.dev/problems/unknown-state", batch.get(0).get("type").asText());
        assertTrue(batch.get(1).get("id").asText().matches("[0-9a-f]{64}"));

        // nothing bob did touched alice's state
        assertEquals(200, alice.get("/v1/states/" + a).status());
        assertEquals(200, alice.post("/v1/generate", gen).status());
        // and alice deleting it works, after which it is missing for her too
        assertEquals(204, alice.delete("/v1/states/" + a).status());
        assertProblem(alice.get("/v1/states/" + a), 404, "unknown-state");
    }

    @Test
    void theSameDocumentGetsDifferentIdsUnderDifferentTenantsAndTodaysIdWithAuthenticationOff() {
        int[] d = doc(2, 16);
        String fp = alice.get("/v1/models").json().get("data").get(0).get("fingerprint").asText();
        String a = prime(alice, d), b = prime(bob, d), o = prime(openHttp, d);
        assertNotEquals(a, b);
        assertEquals(StateIds.primed("alice", fp, null, d), a);
        assertEquals(StateIds.primed("bob", fp, null, d), b);
        // authentication off: one tenant 'default' and exactly today's (unsalted) id
        assertEquals(StateIds.primed(fp, null, d), o);
        assertNotEquals(o, a);
        assertEquals(200, openHttp.get("/v1/states/" + o).status());
        // each sees its own, under its own id
        assertEquals(200, alice.get("/v1/states/" + a).status());
        assertEquals(200, bob.get("/v1/states/" + b).status());
        assertProblem(alice.get("/v1/states/" + b), 404, "unknown-state");
        // chained and combined ids are salted too
        String ac = prime(alice, d.length > 0 ? new int[] {3} : d);
        String combinedA = alice.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", a), Map.of("id", ac))))
                .json().get("id").asText();
        assertEquals(StateIds.combined("alice", fp, new String[] {a, ac}, new double[] {0.5, 0.5}), combinedA);
        // a saved generation state belongs to its tenant
        JsonNode g = alice.post("/v1/generate", Map.of("states", List.of(Map.of("id", a)), "prompt_tokens", new int[] {4},
                "max_tokens", 2, "temperature", 0, "save_state", true)).json();
        String saved = g.get("state_id").asText();
        assertEquals(200, alice.get("/v1/states/" + saved).status());
        assertProblem(bob.get("/v1/states/" + saved), 404, "unknown-state");
    }

    @Test
    void importedBlobsBelongToTheImportingTenantUnderItsOwnId() throws Exception {
        String a = prime(alice, doc(3, 12));
        Http.BytesResponse blob = alice.getBytes("/v1/states/" + a + "/blob");
        assertEquals(200, blob.status());
        String etag = blob.headers().firstValue("etag").orElseThrow().replace("\"", "");
        assertEquals(StateIds.imported("alice", blob.body()), etag);
        // the blob never names the tenant
        assertFalse(new String(blob.body(), StandardCharsets.ISO_8859_1).contains("alice"));

        Http.Response ib = bob.postBytes("/v1/states/import", blob.body());
        assertEquals(201, ib.status(), ib.body());
        String bobsId = ib.json().get("id").asText();
        assertEquals(StateIds.imported("bob", blob.body()), bobsId);
        Http.Response ia = alice.postBytes("/v1/states/import", blob.body());
        assertEquals(201, ia.status(), ia.body());
        assertEquals(etag, ia.json().get("id").asText());
        assertNotEquals(bobsId, etag);
        assertProblem(alice.get("/v1/states/" + bobsId), 404, "unknown-state");
        assertProblem(bob.get("/v1/states/" + etag), 404, "unknown-state");
        assertEquals(200, bob.get("/v1/states/" + bobsId).status());
        // and importing needs a key like everything else
        assertProblem(anon.postBytes("/v1/states/import", blob.body()), 401, "unauthorized");
    }

    // ------------------------------------------------------------------------------------------ rate limits

    @Test
    void overTheRequestRateTheAnswerIs429WithRetryAfter() {
        Http burst = anon.withKey(BURST);
        Http.Response limited = null;
        for (int i = 0; i < 20 && limited == null; i++) {
            Http.Response r = burst.get("/v1/models");
            if (r.status() == 429) limited = r;
            else assertEquals(200, r.status());
        }
        assertTrue(limited != null, "3 requests per second: 20 in a row must hit the limit");
        assertProblem(limited, 429, "rate-limited");
        long retry = Long.parseLong(limited.headers().firstValue("retry-after").orElseThrow());
        assertTrue(retry >= 1 && retry <= 1, "Retry-After " + retry);
        // other keys are not affected
        assertEquals(200, alice.get("/v1/models").status());
    }

    @Test
    void overTheTokensPerMinuteTheAnswerIs429AndOneRequestOverAWholeMinuteIs400() {
        Http frugal = anon.withKey(FRUGAL);
        // 60 tokens per minute: a 40-token document passes; another 40 new tokens do not
        assertEquals(201, frugal.post("/v1/states", Map.of("tokens", doc(10, 40))).status());
        Http.Response r = frugal.post("/v1/states", Map.of("tokens", doc(11, 40)));
        assertProblem(r, 429, "rate-limited");
        long retry = Long.parseLong(r.headers().firstValue("retry-after").orElseThrow());
        assertTrue(retry >= 1 && retry <= 60, "Retry-After " + retry);
        // a document already primed costs nothing (the model reads nothing)
        assertEquals(200, frugal.post("/v1/states", Map.of("tokens", doc(10, 40))).status());
        // more than a minute's worth in one request can never pass
        assertProblem(frugal.post("/v1/states", Map.of("tokens", doc(12, 61))), 400, "limit-exceeded");
        // generation reserves prompt + max_tokens
        assertProblem(frugal.post("/v1/generate", Map.of("prompt_tokens", new int[] {1}, "max_tokens", 30)), 429, "rate-limited");
    }

    // ------------------------------------------------------------------------------------------ request limits

    @Test
    void theBodySizeLimitHoldsWithAndWithoutContentLength() throws Exception {
        String big = "{\"text\": \"" + "a".repeat(70_000) + "\"}";
        assertProblem(alice.post("/v1/tokenize", big), 413, "body-too-large");
        // chunked: no Content-Length, counted while read
        HttpRequest chunked = alice.request("/v1/tokenize").header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big.getBytes()))).build();
        assertProblem(alice.send(chunked), 413, "body-too-large");
        // forms are refused before anything parses them (the container's form parser would choke on bad bytes)
        HttpRequest form = alice.request("/v1/tokenize").header("content-type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("{\"text\": \"\ud800%zz\"}")).build();
        assertProblem(alice.send(form), 415, "unsupported-media-type");
        HttpRequest formDelete = alice.request("/v1/states/" + "a".repeat(64)).header("content-type", "application/x-www-form-urlencoded")
                .method("DELETE", HttpRequest.BodyPublishers.ofString("a=%zz&%ff=1")).build();
        assertProblem(alice.send(formDelete), 415, "unsupported-media-type");
        // just under the limit is fine
        assertEquals(200, alice.post("/v1/tokenize", "{\"text\": \"" + "a".repeat(60_000) + "\"}").status());
        assertEquals(200, alice.get("/v1/models").status());
    }

    @Test
    void jsonStopModelAndBatchLimitsAreClearProblems() {
        String deep = "[".repeat(200) + "]".repeat(200);
        Http.Response r = alice.post("/v1/completions", "{\"prompt\": " + deep + "}");
        assertProblem(r, 400, "limit-exceeded");
        assertTrue(r.json().get("detail").asText().contains("depth"), r.body());
        assertProblem(alice.post("/v1/tokenize", "{\"text\": 1" + "0".repeat(200) + "}"), 400, "limit-exceeded");

        List<String> stops = new ArrayList<>();
        for (int i = 0; i < 17; i++) stops.add("s" + i);
        assertProblem(alice.post("/v1/generate", Map.of("prompt", "x", "stop", stops)), 400, "limit-exceeded");
        assertProblem(alice.post("/v1/generate", Map.of("prompt", "x", "stop", List.of("x".repeat(257)))), 400, "limit-exceeded");
        assertProblem(alice.post("/v1/generate", Map.of("prompt", "x", "logprobs", 21)), 400, "invalid-request");
        assertProblem(alice.post("/v1/chat/completions", Map.of("messages", List.of(Map.of("role", "user", "content", "x")),
                "logprobs", true, "top_logprobs", 21)), 400, "invalid-request");

        for (String model : List.of("..", ".", "../tiny", "tiny/..", "/etc/passwd", "tiny\\..", "tí", "a".repeat(129))) {
            assertProblem(alice.post("/v1/tokenize", Map.of("model", model, "text", "x")), 400, "invalid-request");
        }
        assertProblem(alice.post("/v1/tokenize", Map.of("model", "nope", "text", "x")), 404, "unknown-model");

        List<Map<String, Object>> docs = new ArrayList<>();
        for (int i = 0; i < 257; i++) docs.add(Map.of("tokens", new int[] {i % 256}));
        assertProblem(alice.post("/v1/states/batch", Map.of("documents", docs)), 400, "limit-exceeded");
    }

    @Test
    void errorBodiesCarryNoInternals() {
        List<Http.Response> rs = List.of(
                alice.post("/v1/generate", "{\"prompt\": \"x\", \"max_tokens\": \"many\"}"),
                alice.post("/v1/generate", "{\"states\": {\"id\": 1}}"),
                alice.post("/v1/generate", "{\"prompt\": "),
                alice.post("/v1/states/combine", "[1, 2]"),
                alice.post("/v1/tokenize", "\u0000\u0001"),
                alice.get("/error"),
                alice.get("/v1/states/%2e%2e%2fetc"),
                alice.send(alice.request("/v1/models").method("PATCH", HttpRequest.BodyPublishers.noBody()).build()));
        for (Http.Response r : rs) {
            assertTrue(r.status() >= 400 && r.status() < 500, r.status() + " " + r.body());
            assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType() + " " + r.body());
            for (String leak : List.of("io.engram", "java.", "tools.jackson", "Exception", "\tat ", "/work/", "/tmp/")) {
                assertFalse(r.body().contains(leak), leak + " in " + r.body());
            }
        }
        JsonNode wrongType = rs.get(0).json();
        assertEquals("'max_tokens' has the wrong type or shape: expected an integer", wrongType.get("detail").asText());
        assertEquals(404, rs.get(5).status());
    }

    // ------------------------------------------------------------------------------------------ CORS, logs

    @Test
    void corsAnswersOnlyConfiguredOrigins() {
        HttpRequest pre = alice.request("/v1/generate").method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("origin", "https://app.example").header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization, content-type").build();
        Http.Response ok = anon.send(pre);
        assertEquals(200, ok.status(), ok.body());
        assertEquals("https://app.example", ok.headers().firstValue("access-control-allow-origin").orElse(""));
        HttpRequest evil = alice.request("/v1/models").header("origin", "https://evil.example").GET().build();
        Http.Response no = anon.send(evil);
        assertEquals(403, no.status());
        assertTrue(no.headers().firstValue("access-control-allow-origin").isEmpty());
        // the server with no origins configured sends no CORS headers at all
        Http.Response off = openHttp.send(openHttp.request("/v1/models").header("origin", "https://app.example").GET().build());
        assertEquals(200, off.status());
        assertTrue(off.headers().firstValue("access-control-allow-origin").isEmpty());
    }

    @Test
    void accessLogsAreJsonLinesWithoutTextOrIds() {
        Logger access = (Logger) LoggerFactory.getLogger("engram.access");
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        access.addAppender(lines);
        try {
            String secret = "the secret document text";
            Http.Response p = alice.post("/v1/states", Map.of("text", secret));
            String id = p.json().get("id").asText();
            alice.get("/v1/states/" + id);
            alice.post("/v1/generate", Map.of("prompt", "secret prompt", "max_tokens", 2, "stream", true));
            anon.get("/v1/models");
            long deadline = System.currentTimeMillis() + 5000;
            while (lines.list.size() < 4 && System.currentTimeMillis() < deadline) Thread.onSpinWait();
            List<JsonNode> json = new ArrayList<>();
            for (ILoggingEvent e : List.copyOf(lines.list)) {
                String m = e.getFormattedMessage();
                assertFalse(m.contains("secret"), m);
                assertFalse(m.contains(id), m);
                assertFalse(m.contains(ALICE), m);
                json.add(Http.JSON.readTree(m));
            }
            assertTrue(json.stream().anyMatch(j -> j.path("route").asText().equals("/v1/states/{id}")
                    && j.path("tenant").asText().equals("alice") && j.path("status").asInt() == 200
                    && j.path("method").asText().equals("GET")), json.toString());
            assertTrue(json.stream().anyMatch(j -> j.path("route").asText().equals("/v1/generate")
                    && j.path("status").asInt() == 200), json.toString());
            assertTrue(json.stream().anyMatch(j -> j.path("status").asInt() == 401 && j.path("tenant").isNull()), json.toString());
            for (JsonNode j : json) assertTrue(j.has("duration_ms") && j.has("ts"), j.toString());
        } finally {
            access.detachAppender(lines);
        }
    }
}
