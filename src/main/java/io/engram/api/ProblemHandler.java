package io.engram.api;

import io.engram.error.EngramException;
import io.engram.error.ProblemRenderer;
import io.engram.error.ProblemType;
import io.engram.security.BodyLimitFilter;
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
import org.springframework.web.ErrorResponse;
import org.springframework.web.HttpMediaTypeNotAcceptableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.resource.NoResourceFoundException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamConstraintsException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.exc.MismatchedInputException;

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
        return b.body(ProblemRenderer.problem(e, req));
    }

    /**
     * An {@code IllegalArgumentException} that escaped is a bug of the server (an internal check between its own
     * parts), not the client's fault: validation of user input throws {@link EngramException} (the controllers
     * turn the sampling parameters' range checks into one), so this is a 500 {@code internal}.
     */
    @ExceptionHandler(IllegalArgumentException.class)
    public ResponseEntity<ProblemDetail> illegalArgument(IllegalArgumentException e, HttpServletRequest req) {
        log.error("Unhandled error on {} {}", req.getMethod(), req.getRequestURI(), e);
        return respond(ProblemType.INTERNAL, "the server failed to handle this request; it has been logged", req);
    }

    /**
     * A body that could not be read: too large (413), over a JSON read limit (400 limit-exceeded), a value of the
     * wrong type (named by its JSON path), or not JSON at all. Jackson's own text is cut to its first line and
     * stripped of Java class names.
     */
    @ExceptionHandler(HttpMessageNotReadableException.class)
    public ResponseEntity<ProblemDetail> unreadable(HttpMessageNotReadableException e, HttpServletRequest req) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof BodyLimitFilter.TooLarge t) {
                return respond(ProblemType.BODY_TOO_LARGE, BodyLimitFilter.detail(t.max), req);
            }
            if (c instanceof StreamConstraintsException x) {
                return respond(ProblemType.LIMIT_EXCEEDED, "the JSON body exceeds a read limit: " + scrub(x.getOriginalMessage())
                        + " (engram.limits.max-json-depth, engram.limits.max-body-bytes)", req);
            }
        }
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof DatabindException x) {
                String path = jsonPath(x.getPath());
                String expected = c instanceof MismatchedInputException m ? expected(m.getTargetType()) : null;
                String detail = (path.isEmpty() ? "the body" : "'" + path + "'")
                        + " has the wrong type or shape" + (expected == null ? "" : ": expected " + expected);
                ProblemDetail p = ProblemRenderer.problem(ProblemType.MALFORMED_JSON, detail, req);
                if (!path.isEmpty()) p.setProperty("errors", ProblemRenderer.errors(path, detail));
                return ResponseEntity.status(ProblemType.MALFORMED_JSON.status()).contentType(PROBLEM).body(p);
            }
            if (c instanceof JacksonException x) {
                return respond(ProblemType.MALFORMED_JSON, "the body is not valid JSON: " + scrub(x.getOriginalMessage()), req);
            }
        }
        return respond(ProblemType.MALFORMED_JSON, "the body could not be read as JSON", req);
    }

    /** {@code states[0].weight}. */
    static String jsonPath(java.util.List<JacksonException.Reference> refs) {
        StringBuilder b = new StringBuilder();
        for (JacksonException.Reference r : refs) {
            if (r.getPropertyName() != null) {
                if (b.length() > 0) b.append('.');
                b.append(cut(r.getPropertyName(), 64));
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static String expected(Class<?> t) {
        if (t == null) return null;
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class) return "an integer";
        if (t == Double.class || t == double.class || t == Float.class || t == float.class) return "a number";
        if (t == String.class) return "a string";
        if (t == Boolean.class || t == boolean.class) return "true or false";
        if (t.isArray() || java.util.Collection.class.isAssignableFrom(t)) return "an array";
        if (t == Object.class) return null;
        return "an object";
    }

    /** First line, Java class names reduced to their simple names, at most 200 characters. */
    static String scrub(String message) {
        if (message == null) return "";
        String s = message.lines().findFirst().orElse("");
        s = QUALIFIED.matcher(s).replaceAll(m -> java.util.regex.Matcher.quoteReplacement(
                m.group(1).substring(m.group(1).lastIndexOf('$') + 1)));
        return cut(s, 200);
    }

    private static final java.util.regex.Pattern QUALIFIED =
            java.util.regex.Pattern.compile("\\b(?:[a-z_][A-Za-z0-9_]*\\.)+([A-Z][A-Za-z0-9_$]*)");

    static String cut(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...";
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

    /** An {@code Accept} header that excludes JSON (or cannot be parsed). */
    @ExceptionHandler(HttpMediaTypeNotAcceptableException.class)
    public ResponseEntity<ProblemDetail> notAcceptable(HttpMediaTypeNotAcceptableException e, HttpServletRequest req) {
        return respond(ProblemType.NOT_ACCEPTABLE, "the API answers application/json (text/event-stream for streams, "
                + "application/octet-stream for blobs, application/problem+json for errors): accept one of them", req);
    }

    /** The client of a stream went away while it was written to: nobody to answer, nothing to log as an error. */
    @ExceptionHandler(org.springframework.web.context.request.async.AsyncRequestNotUsableException.class)
    public void clientGone(Exception e, HttpServletRequest req) {
        log.debug("client went away on {} {}", req.getMethod(), req.getRequestURI());
    }

    @ExceptionHandler(Exception.class)
    public ResponseEntity<ProblemDetail> other(Exception e, HttpServletRequest req) {
        if (e instanceof ErrorResponse er && er.getStatusCode().is4xxClientError()) {
            // any other of Spring MVC's client errors: its status, without its text (which may name internals)
            HttpStatus s = HttpStatus.resolve(er.getStatusCode().value());
            String phrase = s == null ? "Client error" : s.getReasonPhrase();
            ProblemDetail p = ProblemDetail.forStatusAndDetail(er.getStatusCode(), "the request was refused: " + phrase);
            p.setTitle(phrase);
            return ResponseEntity.status(er.getStatusCode()).contentType(PROBLEM).body(p);
        }
        log.error("Unhandled error on {} {}", req.getMethod(), req.getRequestURI(), e);
        return respond(ProblemType.INTERNAL, "the server failed to handle this request; it has been logged", req);
    }

    private static ResponseEntity<ProblemDetail> respond(ProblemType type, String detail, HttpServletRequest req) {
        return ResponseEntity.status(type.status()).contentType(PROBLEM).body(ProblemRenderer.problem(type, detail, req));
    }
}
