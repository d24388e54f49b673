package io.engram.api;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Fixtures;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * The HTTP API end to end over real HTTP, serving the oracle's RWKV-7 checkpoint: generation must reproduce the
 * official reference's greedy tokens through the whole stack (priming, storing, combining, decoding).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApiTest {

    static Path models;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws IOException {
        models = Files.createTempDirectory("engram-api-test");
        OracleModelDir.create(models, "tiny");
        // a second model: same weights, another config, so another fingerprint
        java.nio.file.Path other = OracleModelDir.create(models, "tiny2");
        Files.writeString(other.resolve("config.json"), "{\"architecture\": \"rwkv7\", \"tokenizer\": \"bytes\", \"description\": \"copy\"}");
        r.add("engram.models-dir", () -> models.toString());
        r.add("engram.limits.max-document-tokens", () -> "1000");
        r.add("engram.limits.max-tokens", () -> "64");
        r.add("engram.scheduler.chunk-tokens", () -> "7");
    }

    @Autowired
    Environment env;
    Http http;
    static final JsonNode ORACLE = Fixtures.json("oracle/rwkv7_a.vectors.json");

    @BeforeEach
    void client() {
        http = new Http(Integer.parseInt(env.getProperty("local.server.port")));
    }

    @Test
    void listsTheModelWithItsIdentity() {
        JsonNode m = http.get("/v1/models").json().get("data").get(0);
        assertEquals("tiny", m.get("id").asText());
        assertEquals("rwkv7", m.get("architecture").asText());
        assertEquals(2, m.get("layers").asInt());
        assertEquals(256, m.get("vocab_size").asInt());
        assertEquals(2 * (64 + 4 * 16 * 16 + 64) * 4, m.get("state_bytes").asLong());
        assertTrue(m.get("fingerprint").asText().matches("sha256:[0-9a-f]{64}"));
        assertEquals("bytes", m.get("tokenizer").asText());
        assertEquals("float32", m.get("serve_dtype").asText());
        assertTrue(m.get("default").asBoolean());
    }

    @Test
    void tokenizeAndDetokenize() {
        JsonNode t = http.post("/v1/tokenize", Map.of("text", "Hé")).json();
        assertEquals("[72,195,169]", t.get("tokens").toString());
        assertEquals(3, t.get("count").asInt());
        assertEquals("Hé", http.post("/v1/detokenize", Map.of("tokens", List.of(72, 195, 169))).json().get("text").asText());
    }

    @Test
    void primeIsContentAddressedAndIdempotent() {
        int[] doc = ints(ORACLE.get("combos").get(0).get("doc_a"));
        Http.Response first = http.post("/v1/states", Map.of("tokens", doc, "ttl_seconds", 600));
        Http.Response again = http.post("/v1/states", Map.of("tokens", doc));
        String id = first.json().get("id").asText();
        if (first.status() == 201) {
            assertEquals("/v1/states/" + id, first.headers().firstValue("location").orElseThrow());
            assertFalse(first.json().get("cached").asBoolean());
        }
        assertEquals(200, again.status());
        assertTrue(again.json().get("cached").asBoolean());
        assertEquals(id, again.json().get("id").asText());
        assertTrue(id.matches("[0-9a-f]{64}"));
        assertEquals(16, first.json().get("tokens").asInt());
        assertEquals(9216, first.json().get("bytes").asLong());
        assertEquals(200, http.get("/v1/states/" + id).status());
        // a different document, or the same one after a parent, has another id
        int[] other = Arrays.copyOf(doc, doc.length - 1);
        assertNotEquals(id, http.post("/v1/states", Map.of("tokens", other)).json().get("id").asText());
        JsonNode chained = http.post("/v1/states", Map.of("tokens", doc, "parent", id)).json();
        assertNotEquals(id, chained.get("id").asText());
        assertEquals(32, chained.get("total_tokens").asInt());
        assertEquals(id, chained.get("parent").asText());
    }

    @Test
    void weightedMeanOfTwoDocumentsReproducesTheReferenceGreedyTokens() {
        for (JsonNode combo : ORACLE.get("combos")) {
            String a = prime(ints(combo.get("doc_a")));
            String b = prime(ints(combo.get("doc_b")));
            // weights 1:3 are normalised to 0.25/0.75
            JsonNode res = generate(Map.of("states", List.of(Map.of("id", a, "weight", 1), Map.of("id", b, "weight", 3)),
                    "prompt_tokens", ints(combo.get("query")), "max_tokens", 5, "temperature", 0));
            assertEquals(combo.get("generated").toString(), res.get("tokens").toString(), combo.get("name").asText());
            assertEquals("length", res.get("finish_reason").asText());
            assertEquals(1, res.get("usage").get("prompt_tokens").asInt());
            assertEquals(5, res.get("usage").get("completion_tokens").asInt());

            // the same mean through /v1/states/combine, then generate from the stored combination
            Http.Response c = http.post("/v1/states/combine", Map.of("states",
                    List.of(Map.of("id", a, "weight", 0.25), Map.of("id", b, "weight", 0.75))));
            assertTrue(c.status() == 201 || c.status() == 200, c.body());
            JsonNode res2 = generate(Map.of("states", List.of(Map.of("id", c.json().get("id").asText())),
                    "prompt_tokens", ints(combo.get("query")), "max_tokens", 5, "temperature", 0));
            assertEquals(combo.get("generated").toString(), res2.get("tokens").toString());
        }
    }

    @Test
    void continuingFromACachedStateEqualsReadingDocumentAndPromptInOneGo() {
        int[] doc = ints(ORACLE.get("seq").get("tokens"));
        int[] prompt = {10, 20, 30};
        String id = prime(doc);
        JsonNode cached = generate(Map.of("states", List.of(Map.of("id", id)), "prompt_tokens", prompt,
                "max_tokens", 8, "temperature", 0, "logprobs", 2));
        int[] all = Arrays.copyOf(doc, doc.length + prompt.length);
        System.arraycopy(prompt, 0, all, doc.length, prompt.length);
        JsonNode oneGo = generate(Map.of("prompt_tokens", all, "max_tokens", 8, "temperature", 0, "logprobs", 2));
        assertEquals(oneGo.get("tokens").toString(), cached.get("tokens").toString());
        for (int i = 0; i < 8; i++) {
            double x = cached.get("logprobs").get(i).get("logprob").asDouble();
            double y = oneGo.get("logprobs").get(i).get("logprob").asDouble();
            assertEquals(y, x, 1e-4, "logprob " + i);
            assertEquals(2, cached.get("logprobs").get(i).get("top").size());
        }
        assertEquals(doc.length, cached.get("usage").get("state_tokens").asInt());
    }

    @Test
    void withoutAPromptGenerationContinuesStraightFromTheState() {
        int[] seq = ints(ORACLE.get("seq").get("tokens"));
        String id = prime(seq);
        JsonNode res = generate(Map.of("states", List.of(Map.of("id", id)), "max_tokens", 1, "temperature", 0));
        // the reference's argmax after the last token of seq
        JsonNode argmax = ORACLE.get("seq").get("argmax_per_step");
        assertEquals(argmax.get(argmax.size() - 1).asInt(), res.get("tokens").get(0).asInt());
    }

    @Test
    void savedConversationStateContinuesWhereItStopped() {
        int[] doc = ints(ORACLE.get("combos").get(1).get("doc_b"));
        String id = prime(doc);
        JsonNode turn1 = generate(Map.of("states", List.of(Map.of("id", id)), "prompt_tokens", new int[] {5, 6},
                "max_tokens", 4, "temperature", 0, "save_state", true));
        String saved = turn1.get("state_id").asText();
        assertTrue(saved.matches("[0-9a-f]{64}"));
        assertEquals(200, http.get("/v1/states/" + saved).status());
        JsonNode turn2 = generate(Map.of("states", List.of(Map.of("id", saved)), "prompt_tokens", new int[] {7},
                "max_tokens", 3, "temperature", 0));
        // reading everything in one go gives the same continuation
        List<Integer> all = new ArrayList<>();
        for (int t : doc) all.add(t);
        all.addAll(List.of(5, 6));
        turn1.get("tokens").forEach(t -> all.add(t.asInt()));
        all.add(7);
        JsonNode oneGo = generate(Map.of("prompt_tokens", all, "max_tokens", 3, "temperature", 0));
        assertEquals(oneGo.get("tokens").toString(), turn2.get("tokens").toString());
    }

    @Test
    void streamsOneEventPerTokenThenDone() throws Exception {
        String id = prime(ints(ORACLE.get("seq").get("tokens")));
        var req = java.net.http.HttpRequest.newBuilder(http.uri("/v1/generate")).header("content-type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(Http.JSON.writeValueAsString(Map.of(
                        "states", List.of(Map.of("id", id)), "prompt", "Hi", "max_tokens", 6, "temperature", 0,
                        "stream", true)))).build();
        var res = http.client().send(req, java.net.http.HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, res.statusCode());
        assertTrue(res.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<String> events = new ArrayList<>();
        List<JsonNode> data = new ArrayList<>();
        String event = null;
        for (String line : (Iterable<String>) res.body()::iterator) {
            if (line.startsWith("event:")) event = line.substring(6).trim();
            if (line.startsWith("data:")) {
                events.add(event);
                data.add(Http.JSON.readTree(line.substring(5).trim()));
                assertTrue(line.startsWith("data: "), "the spec's SSE framing: " + line);
            }
        }
        assertEquals(7, events.size(), events.toString());
        for (int i = 0; i < 6; i++) assertEquals("token", events.get(i));
        assertEquals("done", events.get(6));
        assertEquals("length", data.get(6).get("finish_reason").asText());
        assertEquals(6, data.get(6).get("usage").get("completion_tokens").asInt());
        // the streamed tokens are the non-streamed ones
        JsonNode plain = generate(Map.of("states", List.of(Map.of("id", id)), "prompt", "Hi", "max_tokens", 6, "temperature", 0));
        for (int i = 0; i < 6; i++) assertEquals(plain.get("tokens").get(i).asInt(), data.get(i).get("token").asInt());
    }

    @Test
    void deleteRemovesTheState() {
        String id = prime(new int[] {1, 2, 3, 4});
        assertEquals(204, http.delete("/v1/states/" + id).status());
        assertProblem(http.get("/v1/states/" + id), 404, "unknown-state");
        assertProblem(http.delete("/v1/states/" + id), 404, "unknown-state");
    }

    @Test
    void badInputGetsAProblemAndTheServerKeepsServing() {
        String id = prime(new int[] {9, 8, 7});
        String before = http.get("/v1/states/" + id).body();
        assertProblem(http.post("/v1/states", Map.of("text", "")), 400, "invalid-request");
        assertProblem(http.post("/v1/states", Map.of("tokens", List.of(1, 256))), 400, "token-out-of-range");
        assertProblem(http.post("/v1/states", Map.of("tokens", List.of(-1))), 400, "token-out-of-range");
        assertProblem(http.post("/v1/states", Map.of("text", "x".repeat(1001))), 413, "document-too-long");
        assertProblem(http.post("/v1/states", Map.of("model", "nope", "text", "hi")), 404, "unknown-model");
        assertProblem(http.post("/v1/states", Map.of("text", "a", "tokens", List.of(1))), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", "0".repeat(64))), "prompt", "x")), 404, "unknown-state");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", "../../etc")), "prompt", "x")), 404, "unknown-state");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id, "weight", -1)), "prompt", "x")), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id, "weight", 0)), "prompt", "x")), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("prompt", "x", "max_tokens", 65)), 400, "limit-exceeded");
        assertProblem(http.post("/v1/generate", Map.of("prompt", "x", "top_p", 0)), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("prompt_tokens", List.of(300))), 400, "token-out-of-range");
        assertProblem(http.post("/v1/generate", "{\"prompt\": \"x\", "), 400, "malformed-json");
        assertProblem(http.post("/v1/states", "[1,2"), 400, "malformed-json");
        assertProblem(http.post("/v1/detokenize", Map.of("tokens", List.of(999))), 400, "token-out-of-range");
        assertProblem(http.post("/v1/states/combine", Map.of("states", List.of())), 400, "invalid-request");
        assertProblem(http.get("/v1/nothing-here"), 404, "not-found");
        assertProblem(http.post("/v1/generate", Map.of("prompt", "x", "max_tokens", 0)), 400, "limit-exceeded");
        assertProblem(http.post("/v1/generate", Map.of("prompt", "x", "logprobs", 21)), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("prompt", "x", "temperature", -1)), 400, "invalid-request");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)), "prompt", "x".repeat(998))),
                413, "document-too-long");
        String other = http.post("/v1/states", Map.of("model", "tiny2", "tokens", List.of(9, 8, 7))).json().get("id").asText();
        assertNotEquals(id, other, "the same document on another model has another id");
        assertProblem(http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id), Map.of("id", other)), "prompt", "x")),
                409, "model-mismatch");
        assertProblem(http.post("/v1/states/combine", Map.of("states", List.of(Map.of("id", id), Map.of("id", other)))),
                409, "model-mismatch");
        // nothing stored was touched, and the server still answers
        assertEquals(before, http.get("/v1/states/" + id).body());
        assertEquals(200, http.get("/v1/models").status());
    }

    @Test
    void healthGroups() {
        assertEquals("UP", http.get("/actuator/health/liveness").json().get("status").asText());
        Http.Response ready = http.get("/actuator/health/readiness");
        assertEquals(200, ready.status());
        assertEquals("UP", ready.json().get("status").asText());
    }

    private String prime(int[] tokens) {
        Http.Response r = http.post("/v1/states", Map.of("tokens", tokens));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    private JsonNode generate(Map<String, ?> body) {
        Http.Response r = http.post("/v1/generate", body);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    static void assertProblem(Http.Response r, int status, String type) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
        JsonNode p = r.json();
        assertEquals("https://engram.dev/problems/" + type, p.get("type").asText(), r.body());
        assertEquals(status, p.get("status").asInt());
        assertFalse(p.get("detail").asText().isBlank());
        assertFalse(r.body().contains("Exception"), "no internals in " + r.body());
    }
}
