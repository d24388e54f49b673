package io.engram.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import tools.jackson.databind.JsonNode;

/** Assertions on RFC 9457 problem-details answers. */
public final class ProblemAsserts {

    private ProblemAsserts() {}

    /** {@code r} is a problem of {@code status} and {@code type} (the slug after https://engram.dev/problems/). */
    public static void assertProblem(Http.Response r, int status, String type) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
        JsonNode p = r.json();
        assertEquals("https://engram.dev/problems/" + type, p.get("type").asText(), r.body());
        assertEquals(status, p.get("status").asInt());
        assertFalse(p.get("detail").asText().isBlank());
        assertFalse(r.body().contains("Exception"), "no internals in " + r.body());
    }
}
