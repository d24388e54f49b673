package io.engram.security;

import io.engram.api.ProblemHandler;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import tools.jackson.databind.ObjectMapper;

/** Problem-details answers written by servlet filters (which run before, and outside, the controller advice). */
final class Problems {

    private Problems() {}

    static void write(ObjectMapper json, HttpServletRequest req, HttpServletResponse res, EngramException e)
            throws IOException {
        write(json, req, res, e.type(), e.getMessage(), e.retryAfterSeconds());
    }

    static void write(ObjectMapper json, HttpServletRequest req, HttpServletResponse res, ProblemType type,
                      String detail, Long retryAfter) throws IOException {
        res.setStatus(type.status());
        res.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        if (retryAfter != null) res.setHeader(HttpHeaders.RETRY_AFTER, String.valueOf(retryAfter));
        byte[] body = json.writeValueAsBytes(ProblemHandler.problem(type, detail, req));
        res.setContentLength(body.length);
        res.getOutputStream().write(body);
    }
}
