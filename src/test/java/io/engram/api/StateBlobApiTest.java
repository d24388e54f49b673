package io.engram.api;

import static io.engram.api.ApiTest.assertProblem;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * Blob export and import over real HTTP between two servers: a state exported from one and imported into a
 * fresh one generates bit-identical tokens and log-probabilities; bad blobs are problems, never NaN or a crash.
 * Also: combining 1, 2 and 8 states through {@code /v1/states/combine} is the same function as generating from them.
 */
class StateBlobApiTest {

    static TestApp source, fresh;
    static Http a, b;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-blob-test");
        OracleModelDir.create(models, "tiny");
        source = TestApp.start(models);
        fresh = TestApp.start(models);
        a = source.http();
        b = fresh.http();
    }

    @AfterAll
    static void stop() {
        if (source != null) source.close();
        if (fresh != null) fresh.close();
    }

    static int[] doc(long seed, int n) {
        return new SplittableRandom(seed).ints(n, 0, 256).toArray();
    }

    static String prime(Http h, int[] tokens) {
        Http.Response r = h.post("/v1/states", Map.of("tokens", tokens));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    static JsonNode generate(Http h, Map<String, ?> body) {
        Http.Response r = h.post("/v1/generate", body);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void exportedStateImportedIntoAFreshServerGeneratesBitIdenticalOutput() throws Exception {
        int[] d = doc(1, 40);
        String id = prime(a, d);
        Map<String, Object> ask = Map.of("states", List.of(Map.of("id", id)), "prompt_tokens", new int[] {5, 6, 7},
                "max_tokens", 8, "temperature", 0, "logprobs", 5);
        JsonNode want = generate(a, ask);

        Http.BytesResponse blob = a.getBytes("/v1/states/" + id + "/blob");
        assertEquals(200, blob.status());
        assertEquals("application/octet-stream", blob.headers().firstValue("content-type").orElseThrow());
        assertEquals("\"" + sha256(blob.body()) + "\"", blob.headers().firstValue("etag").orElseThrow());
        assertEquals(0x89, blob.body()[0] & 0xff);

        assertProblem(b.get("/v1/states/" + id), 404, "unknown-state"); // the fresh server has nothing
        Http.Response imp = b.postBytes("/v1/states/import?ttl_seconds=600", blob.body());
        assertEquals(201, imp.status(), imp.body());
        JsonNode meta = imp.json();
        String imported = meta.get("id").asText();
        assertEquals(sha256(blob.body()), imported, "the id of an imported state is the blob's sha256");
        assertNotEquals(id, imported, "an import never takes a document id");
        assertEquals("/v1/states/" + imported, imp.headers().firstValue("location").orElseThrow());
        assertEquals("imported", meta.get("kind").asText());
        assertEquals(40, meta.get("tokens").asInt());
        assertEquals(9216, meta.get("bytes").asLong());
        assertTrue(meta.get("expires_at").asText().compareTo(meta.get("created_at").asText()) > 0);
        Http.Response again = b.postBytes("/v1/states/import", blob.body());
        assertEquals(200, again.status(), again.body());
        assertTrue(again.json().get("cached").asBoolean());
        assertEquals(imported, again.json().get("id").asText());

        Map<String, Object> askB = Map.of("states", List.of(Map.of("id", imported)), "prompt_tokens", new int[] {5, 6, 7},
                "max_tokens", 8, "temperature", 0, "logprobs", 5);
        JsonNode got = generate(b, askB);
        assertEquals(want.get("tokens").toString(), got.get("tokens").toString());
        assertEquals(want.get("logprobs").toString(), got.get("logprobs").toString(), "bit-identical log-probabilities");
        // continuing with no prompt uses the stored next-token logits: also identical
        JsonNode contA = generate(a, Map.of("states", List.of(Map.of("id", id)), "max_tokens", 4, "temperature", 0, "logprobs", 3));
        JsonNode contB = generate(b, Map.of("states", List.of(Map.of("id", imported)), "max_tokens", 4, "temperature", 0, "logprobs", 3));
        assertEquals(contA.get("logprobs").toString(), contB.get("logprobs").toString());
        // and the imported state exports to the very same bytes
        assertArrayEquals(blob.body(), b.getBytes("/v1/states/" + imported + "/blob").body());
    }

    @Test
    void badBlobsAreProblemsNotCrashes() {
        String id = prime(a, doc(2, 20));
        byte[] blob = a.getBytes("/v1/states/" + id + "/blob").body();

        assertProblem(b.postBytes("/v1/states/import", Arrays.copyOf(blob, blob.length - 1)), 400, "invalid-state-blob");
        assertProblem(b.postBytes("/v1/states/import", Arrays.copyOf(blob, 10)), 400, "invalid-state-blob");
        byte[] flipped = blob.clone();
        flipped[blob.length / 3] ^= 0x01;
        Http.Response r = b.postBytes("/v1/states/import", flipped);
        assertProblem(r, 400, "invalid-state-blob");
        assertTrue(r.json().get("detail").asText().contains("checksum"), r.body());
        byte[] future = blob.clone();
        future[8] = 9;
        assertTrue(b.postBytes("/v1/states/import", future).json().get("detail").asText().contains("version 9"));
        assertProblem(b.postBytes("/v1/states/import", new byte[0]), 400, "invalid-state-blob");
        assertProblem(b.postBytes("/v1/states/import", "{\"id\": 1}".getBytes()), 400, "invalid-state-blob");

        // a well-formed blob made by another model (another fingerprint): 422, naming the fingerprint
        byte[] other = blob.clone();
        int fpAt = 12 + 2 + "sha256:".length();
        for (int i = 0; i < 8; i++) other[fpAt + i] = '0';
        reseal(other);
        Http.Response o = b.postBytes("/v1/states/import", other);
        assertProblem(o, 422, "incompatible-state-blob");
        assertTrue(o.json().get("detail").asText().contains("sha256:00000000"), o.body());

        // larger than any loaded model's state could be
        assertProblem(b.postBytes("/v1/states/import", new byte[200_000]), 413, "blob-too-large");

        assertProblem(a.get("/v1/states/" + "0".repeat(64) + "/blob"), 404, "unknown-state");
        assertProblem(a.get("/v1/states/nope/blob"), 404, "unknown-state");
        // nothing was stored by the failures, and the server still serves
        assertEquals(200, a.get("/v1/states/" + id).status());
    }

    static void reseal(byte[] b) {
        CRC32C crc = new CRC32C();
        crc.update(b, 0, b.length - 4);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length - 4, (int) crc.getValue());
    }

    @Test
    void combineOfOneTwoAndEightStatesIsTheSameFunctionAsGeneratingFromThem() {
        for (int n : new int[] {1, 2, 8}) {
            List<Map<String, Object>> refs = new ArrayList<>();
            SplittableRandom w = new SplittableRandom(n);
            for (int i = 0; i < n; i++) {
                refs.add(Map.of("id", prime(a, doc(100 + 10L * n + i, 8 + 3 * i)), "weight", 0.1 + w.nextDouble()));
            }
            Http.Response c = a.post("/v1/states/combine", Map.of("states", refs, "ttl_seconds", 600));
            assertTrue(c.status() == 201 || c.status() == 200, c.body());
            String combined = c.json().get("id").asText();
            assertEquals("combined", c.json().get("kind").asText());
            assertEquals(8 + 3 * (n - 1), c.json().get("total_tokens").asInt(), "the longest component");
            assertEquals(200, a.post("/v1/states/combine", Map.of("states", refs)).status(), "same combination, same id");

            JsonNode direct = generate(a, Map.of("states", refs, "prompt_tokens", new int[] {3}, "max_tokens", 6,
                    "temperature", 0, "logprobs", 2));
            JsonNode stored = generate(a, Map.of("states", List.of(Map.of("id", combined)), "prompt_tokens", new int[] {3},
                    "max_tokens", 6, "temperature", 0, "logprobs", 2));
            assertEquals(direct.get("logprobs").toString(), stored.get("logprobs").toString(), n + " states");
            if (n == 1) {
                JsonNode single = generate(a, Map.of("states", List.of(Map.of("id", refs.get(0).get("id"))),
                        "prompt_tokens", new int[] {3}, "max_tokens", 6, "temperature", 0, "logprobs", 2));
                assertEquals(single.get("logprobs").toString(), stored.get("logprobs").toString(), "combine of one is the state");
            }
            // the combined state travels as a blob like any other
            byte[] blob = a.getBytes("/v1/states/" + combined + "/blob").body();
            String imported = b.postBytes("/v1/states/import", blob).json().get("id").asText();
            JsonNode there = generate(b, Map.of("states", List.of(Map.of("id", imported)), "prompt_tokens", new int[] {3},
                    "max_tokens", 6, "temperature", 0, "logprobs", 2));
            assertEquals(stored.get("logprobs").toString(), there.get("logprobs").toString());
        }
    }
}
