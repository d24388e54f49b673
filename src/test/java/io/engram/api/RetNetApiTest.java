package io.engram.api;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Fixtures;
import io.engram.testsupport.Http;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * The HTTP API serving the oracle's RetNet ({@code retnet_a}, config taken from the checkpoint's metadata, chunk size
 * overridden by {@code engram.retnet.chunk-size}): priming, combining by the adopted convention and greedy decoding
 * must reproduce torchscale's tokens through the whole stack, with nothing in the API special to RetNet.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class RetNetApiTest {

    static Path models;
    static final JsonNode ORACLE = Fixtures.json("oracle/retnet_a.vectors.json");

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws IOException {
        models = Files.createTempDirectory("engram-retnet-api-test");
        Path dir = models.resolve("retnet-tiny");
        Files.createDirectories(dir);
        Files.copy(Fixtures.shared("oracle/retnet_a.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"retnet\", \"tokenizer\": \"bytes\"}");
        r.add("engram.models-dir", () -> models.toString());
        r.add("engram.retnet.chunk-size", () -> "3");
    }

    @Autowired
    Environment env;
    Http http;

    @BeforeEach
    void client() {
        http = new Http(Integer.parseInt(env.getProperty("local.server.port")));
    }

    @Test
    void listsTheRetNetModel() {
        JsonNode m = http.get("/v1/models").json().get("data").get(0);
        assertEquals("retnet-tiny", m.get("id").asText());
        assertEquals("retnet", m.get("architecture").asText());
        assertEquals(2, m.get("layers").asInt());
        assertEquals(256, m.get("vocab_size").asInt());
        assertEquals(2 * (4 * 32 * 16 + 4) * 4, m.get("state_bytes").asLong()); // per layer kv [4,32,16] + scale [4]
    }

    /** combo0 (equal lengths) and combo1 under the adopted convention (re-based to P = max(pos)). */
    @Test
    void weightedMeanOfTwoDocumentsReproducesTheAlignedGreedyTokens() {
        for (JsonNode combo : ORACLE.get("combos")) {
            JsonNode expected = combo.has("aligned_variant") ? combo.get("aligned_variant") : combo;
            String a = prime(ints(combo.get("doc_a")));
            String b = prime(ints(combo.get("doc_b")));
            JsonNode res = generate(Map.of("states", List.of(Map.of("id", a, "weight", 1), Map.of("id", b, "weight", 3)),
                    "prompt_tokens", ints(combo.get("query")), "max_tokens", 5, "temperature", 0));
            assertEquals(expected.get("generated").toString(), res.get("tokens").toString(), combo.get("name").asText());

            Http.Response c = http.post("/v1/states/combine", Map.of("states",
                    List.of(Map.of("id", a, "weight", 0.25), Map.of("id", b, "weight", 0.75))));
            assertTrue(c.status() == 201 || c.status() == 200, c.body());
            JsonNode res2 = generate(Map.of("states", List.of(Map.of("id", c.json().get("id").asText())),
                    "prompt_tokens", ints(combo.get("query")), "max_tokens", 5, "temperature", 0));
            assertEquals(expected.get("generated").toString(), res2.get("tokens").toString());
        }
    }

    @Test
    void primedDocumentThenGreedyStepMatchesTheReference() {
        int[] seq = ints(ORACLE.get("seq").get("tokens"));
        JsonNode res = generate(Map.of("states", List.of(Map.of("id", prime(seq))), "max_tokens", 1, "temperature", 0));
        JsonNode argmax = ORACLE.get("seq").get("argmax_per_step");
        assertEquals(argmax.get(argmax.size() - 1).asInt(), res.get("tokens").get(0).asInt());
    }

    /** A document primed through {@code parent} continues exactly like the whole text read in one request. */
    @Test
    void primingThroughParentEqualsReadingEverythingInOneGo() {
        int[] seq = ints(ORACLE.get("seq").get("tokens"));
        int[] head = Arrays.copyOfRange(seq, 0, 10), tail = Arrays.copyOfRange(seq, 10, seq.length);
        Http.Response first = http.post("/v1/states", Map.of("tokens", head));
        Http.Response chained = http.post("/v1/states", Map.of("tokens", tail, "parent", first.json().get("id").asText()));
        assertTrue(chained.status() == 201 || chained.status() == 200, chained.body());
        assertEquals(seq.length, chained.json().get("total_tokens").asInt());
        JsonNode viaParent = generate(Map.of("states", List.of(Map.of("id", chained.json().get("id").asText())),
                "prompt_tokens", new int[] {1, 2, 3}, "max_tokens", 6, "temperature", 0, "logprobs", 1));
        JsonNode once = generate(Map.of("states", List.of(Map.of("id", prime(seq))),
                "prompt_tokens", new int[] {1, 2, 3}, "max_tokens", 6, "temperature", 0, "logprobs", 1));
        assertEquals(once.get("tokens").toString(), viaParent.get("tokens").toString());
        for (int i = 0; i < 6; i++) {
            assertEquals(once.get("logprobs").get(i).get("logprob").asDouble(),
                    viaParent.get("logprobs").get(i).get("logprob").asDouble(), 1e-4, "logprob " + i);
        }
    }

    private String prime(int[] tokens) {
        Http.Response r = http.post("/v1/states", Map.of("tokens", tokens));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    private JsonNode generate(Map<String, Object> body) {
        Http.Response r = http.post("/v1/generate", body);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }
}
