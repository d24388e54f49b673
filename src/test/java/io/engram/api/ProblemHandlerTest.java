package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.error.ProblemRenderer;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockHttpServletRequest;

/** Only validation is the client's fault: an IllegalArgumentException from inside the server is a 500. */
class ProblemHandlerTest {

    @Test
    void anInternalIllegalArgumentIsA500NotA400() {
        var r = new ProblemHandler().illegalArgument(new IllegalArgumentException("state tensor 3 should be [4, 8]"),
                new MockHttpServletRequest("POST", "/v1/generate"));
        assertEquals(500, r.getStatusCode().value());
        assertEquals("https://engram.dev/problems/internal", r.getBody().getType().toString());
        assertEquals(500, ProblemRenderer.problemOf(new IllegalArgumentException("chunk of 9 tokens > 8")).getStatus());
    }
}
