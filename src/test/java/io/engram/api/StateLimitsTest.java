package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;


import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Lifetimes and sizes a store cannot hold are refused as bad input, naming the limit, never a 500. */
class StateLimitsTest {

    /** Ten years: StateService.MAX_TTL_SECONDS. */
    static final long MAX_TTL = 315_360_000L;
    static Path models;
    static TestApp app;

    @BeforeAll
    static void start() throws Exception {
        models = Files.createTempDirectory("engram-limits-test");
        OracleModelDir.create(models, "tiny");
        app = TestApp.start(models);
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    @Test
    void ttlThatWouldOverflowIsA400NamingTheMaximum() {
        for (String ttl : new String[] {"9223372036854775807", String.valueOf(MAX_TTL + 1)}) {
            Http.Response r = app.http().post("/v1/states", "{\"tokens\":[1,2,3],\"ttl_seconds\":" + ttl + "}");
            assertEquals(400, r.status(), r.body());
            assertEquals("https://engram.dev/problems/invalid-request", r.json().get("type").asText());
            String detail = r.json().get("detail").asText();
            assertTrue(detail.contains("ttl_seconds") && detail.contains(String.valueOf(MAX_TTL)), detail);
        }
        // the maximum itself is accepted
        Http.Response ok = app.http().post("/v1/states", "{\"tokens\":[1,2,4],\"ttl_seconds\":" + MAX_TTL + "}");
        assertEquals(201, ok.status(), ok.body());
    }

    @Test
    void aStateLargerThanTheMemoryStoreIsA413NamingTheLimit() {
        try (TestApp small = TestApp.start(models, "engram.memory.max-bytes=1000")) {
            Http.Response r = small.http().post("/v1/states", "{\"tokens\":[1,2,3]}");
            assertEquals(413, r.status(), r.body());
            assertEquals("https://engram.dev/problems/state-too-large", r.json().get("type").asText());
            String detail = r.json().get("detail").asText();
            assertTrue(detail.contains("engram.memory.max-bytes") && detail.contains("1000"), detail);
        }
    }

    @Test
    void fieldValidationNamesTheFieldInErrors() {
        Http.Response r = app.http().post("/v1/states", "{\"tokens\":[1,2,3],\"ttl_seconds\":-1}");
        assertEquals(400, r.status(), r.body());
        JsonNode errors = r.json().get("errors");
        assertTrue(errors != null && errors.isArray() && errors.size() == 1, r.body());
        assertEquals("ttl_seconds", errors.get(0).get("field").asText(), r.body());
        assertEquals("#/ttl_seconds", errors.get(0).get("pointer").asText(), r.body());
        assertTrue(errors.get(0).get("detail").asText().contains("between 1 and"), r.body());

        Http.Response p = app.http().post("/v1/generate", "{\"prompt_tokens\":[1],\"top_p\":7}");
        assertEquals(400, p.status(), p.body());
        assertEquals("top_p", p.json().get("errors").get(0).get("field").asText(), p.body());

        Http.Response t = app.http().post("/v1/generate", "{\"prompt_tokens\":[1],\"max_tokens\":\"many\"}");
        assertEquals(400, t.status(), t.body());
        assertEquals("max_tokens", t.json().get("errors").get(0).get("field").asText(), t.body());
    }

    @Test
    void inABatchOnlyTheDocumentWithTheBadTtlFails() {
        Http.Response r = app.http().post("/v1/states/batch", "{\"documents\":[{\"tokens\":[5,6]},"
                + "{\"tokens\":[7,8],\"ttl_seconds\":9223372036854775807},{\"tokens\":[9,10]}]}");
        assertEquals(200, r.status(), r.body());
        JsonNode results = r.json().get("results");
        assertEquals(3, results.size(), r.body());
        assertTrue(results.get(0).has("id"), r.body());
        assertEquals(400, results.get(1).get("status").asInt(), r.body());
        assertTrue(results.get(1).get("detail").asText().contains("ttl_seconds"), r.body());
        assertTrue(results.get(2).has("id"), r.body());
    }
}
