package io.engram.error;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import tools.jackson.databind.ObjectMapper;

/**
 * How a failure looks on the wire: the RFC 9457 problem body ({@code type}, {@code title}, {@code status},
 * {@code detail}, {@code instance}, and {@code errors} for a field). One renderer for every writer of problems:
 * the controller advice, the servlet filters (which run before and outside it), the error page and
 * {@code event: error} in streams.
 */
public final class ProblemRenderer {

    private static final Logger log = LoggerFactory.getLogger(ProblemRenderer.class);

    private ProblemRenderer() {}

    /** The problem for {@code e}, with {@code errors} naming the field when it is a field validation failure. */
    public static ProblemDetail problem(EngramException e, HttpServletRequest req) {
        ProblemDetail p = problem(e.type(), e.getMessage(), req);
        if (e.field() != null) p.setProperty("errors", errors(e.field(), e.getMessage()));
        return p;
    }

    /** Builds the problem body; {@code req} (may be null) gives {@code instance}. */
    public static ProblemDetail problem(ProblemType type, String detail, HttpServletRequest req) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.valueOf(type.status()), detail);
        p.setType(type.uri());
        p.setTitle(type.title());
        if (req != null) {
            try {
                p.setInstance(URI.create(req.getRequestURI()));
            } catch (IllegalArgumentException ignored) {
                // a request line the URI parser refuses: leave 'instance' out
            }
        }
        return p;
    }

    /** The problem for any throwable raised while streaming: an {@link EngramException} as itself, else 500. */
    public static ProblemDetail problemOf(Throwable t) {
        if (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
        if (t instanceof EngramException e) return problem(e, null);
        log.error("Generation failed", t);
        return problem(ProblemType.INTERNAL, "generation failed; it has been logged", null);
    }

    /**
     * The spec's {@code errors} member for field validation: one entry per field, with its JSON name
     * ({@code states[0].weight}), an RFC 6901 pointer into the body ({@code #/states/0/weight}) and what to fix.
     */
    public static List<Map<String, String>> errors(String field, String detail) {
        String pointer = "#/" + field.replace("[", "/").replace("]", "").replace('.', '/');
        Map<String, String> e = new LinkedHashMap<>();
        e.put("field", field);
        e.put("pointer", pointer);
        e.put("detail", detail);
        return List.of(e);
    }

    /** Writes {@code e} as the response (for servlet filters, which answer before any controller runs). */
    public static void write(ObjectMapper json, HttpServletRequest req, HttpServletResponse res, EngramException e)
            throws IOException {
        write(json, req, res, e.type(), e.getMessage(), e.retryAfterSeconds());
    }

    /** Writes a problem of {@code type} as the response, with {@code Retry-After} when {@code retryAfter} is set. */
    public static void write(ObjectMapper json, HttpServletRequest req, HttpServletResponse res, ProblemType type,
                             String detail, Long retryAfter) throws IOException {
        res.setStatus(type.status());
        res.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        if (retryAfter != null) res.setHeader(HttpHeaders.RETRY_AFTER, String.valueOf(retryAfter));
        byte[] body = json.writeValueAsBytes(problem(type, detail, req));
        res.setContentLength(body.length);
        res.getOutputStream().write(body);
    }
}
