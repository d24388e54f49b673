package io.engram.api;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.resource.NoResourceFoundException;

/**
 * The one place where failures become RFC 9457 problem details: a stable {@code type}, the status, and a
 * {@code detail} that says what to fix. No stack trace or internal path ever reaches a client.
 */
@RestControllerAdvice
public class ProblemHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);
    private static final MediaType PROBLEM = MediaType.APPLICATION_PROBLEM_JSON;

    @ExceptionHandler(EngramException.class)
    public ResponseEntity<ProblemDetail> engram(EngramException e, HttpServletRequest req) {
        ResponseEntity.BodyBuilder b = ResponseEntity.status(e.type().status()).contentType(PROBLEM);
        if (e.retryAfterSeconds() != null) b.header(HttpHeaders.RETRY_AFTER, String.valueOf(e.retryAfterSeconds()));
        return b.body(problem(e.type(), e.getMessage(), req));
    }

    /** Range checks of sampling parameters and similar argument validation. */
    @ExceptionHandler(IllegalArgumentException.class)
    public ResponseEntity<ProblemDetail> illegalArgument(IllegalArgumentException e, HttpServletRequest req) {
        return respond(ProblemType.INVALID_REQUEST, e.getMessage(), req);
    }

    @ExceptionHandler(HttpMessageNotReadableException.class)
    public ResponseEntity<ProblemDetail> unreadable(HttpMessageNotReadableException e, HttpServletRequest req) {
        String why = e.getMostSpecificCause().getMessage();
        if (why != null) why = why.lines().findFirst().orElse(why);
        return respond(ProblemType.MALFORMED_JSON, "the body could not be read as the expected JSON"
                + (why == null ? "" : ": " + why), req);
    }

    @ExceptionHandler(MethodArgumentTypeMismatchException.class)
    public ResponseEntity<ProblemDetail> typeMismatch(MethodArgumentTypeMismatchException e, HttpServletRequest req) {
        return respond(ProblemType.INVALID_REQUEST, "parameter '" + e.getName() + "' has the wrong type", req);
    }

    @ExceptionHandler(NoResourceFoundException.class)
    public ResponseEntity<ProblemDetail> noResource(NoResourceFoundException e, HttpServletRequest req) {
        return respond(ProblemType.NOT_FOUND, "no endpoint at " + req.getRequestURI() + "; see the API in README.md", req);
    }

    @ExceptionHandler(HttpRequestMethodNotSupportedException.class)
    public ResponseEntity<ProblemDetail> method(HttpRequestMethodNotSupportedException e, HttpServletRequest req) {
        return respond(ProblemType.METHOD_NOT_ALLOWED, req.getMethod() + " is not supported here; use "
                + e.getSupportedHttpMethods(), req);
    }

    @ExceptionHandler(HttpMediaTypeNotSupportedException.class)
    public ResponseEntity<ProblemDetail> mediaType(HttpMediaTypeNotSupportedException e, HttpServletRequest req) {
        return respond(ProblemType.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json", req);
    }

    @ExceptionHandler(Exception.class)
    public ResponseEntity<ProblemDetail> other(Exception e, HttpServletRequest req) {
        log.error("Unhandled error on {} {}", req.getMethod(), req.getRequestURI(), e);
        return respond(ProblemType.INTERNAL, "the server failed to handle this request; it has been logged", req);
    }

    private static ResponseEntity<ProblemDetail> respond(ProblemType type, String detail, HttpServletRequest req) {
        return ResponseEntity.status(type.status()).contentType(PROBLEM).body(problem(type, detail, req));
    }

    /** Builds the problem body; also used for {@code event: error} in streams. */
    public static ProblemDetail problem(ProblemType type, String detail, HttpServletRequest req) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.valueOf(type.status()), detail);
        p.setType(type.uri());
        p.setTitle(type.title());
        if (req != null) p.setInstance(URI.create(req.getRequestURI()));
        return p;
    }

    /** The problem for any throwable raised while streaming. */
    public static ProblemDetail problemOf(Throwable t) {
        if (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) t = t.getCause();
        if (t instanceof EngramException e) return problem(e.type(), e.getMessage(), null);
        if (t instanceof IllegalArgumentException e) return problem(ProblemType.INVALID_REQUEST, e.getMessage(), null);
        log.error("Generation failed", t);
        return problem(ProblemType.INTERNAL, "generation failed; it has been logged", null);
    }
}
