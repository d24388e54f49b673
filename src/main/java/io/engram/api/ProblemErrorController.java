package io.engram.api;

import io.engram.error.ProblemRenderer;
import io.engram.error.ProblemType;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Replaces Spring Boot's {@code /error} (which answers HTML or its own JSON, and could carry an exception's message):
 * errors that happen outside the controllers (in a filter, in the container) are answered with the same problem
 * details as everything else, and never with a stack trace, exception text or internal path. A direct request for
 * {@code /error} is a 404.
 */
@RestController
public class ProblemErrorController implements ErrorController {

    private static final Logger log = LoggerFactory.getLogger(ProblemErrorController.class);

    @RequestMapping("${server.error.path:/error}")
    public ResponseEntity<ProblemDetail> error(HttpServletRequest req) {
        Object code = req.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        int status = code instanceof Integer i ? i : 404;
        Object uri = req.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
        ProblemType type = switch (status) {
            case 400 -> ProblemType.INVALID_REQUEST;
            case 401 -> ProblemType.UNAUTHORIZED;
            case 404 -> ProblemType.NOT_FOUND;
            case 405 -> ProblemType.METHOD_NOT_ALLOWED;
            case 406 -> ProblemType.NOT_ACCEPTABLE;
            case 413 -> ProblemType.BODY_TOO_LARGE;
            case 415 -> ProblemType.UNSUPPORTED_MEDIA_TYPE;
            case 429 -> ProblemType.RATE_LIMITED;
            case 503 -> ProblemType.UNAVAILABLE;
            default -> status >= 500 ? ProblemType.INTERNAL : null;
        };
        if (status >= 500) {
            Object e = req.getAttribute(RequestDispatcher.ERROR_EXCEPTION);
            log.error("Error {} on {}", status, uri, e instanceof Throwable t ? t : null);
        }
        ProblemDetail p;
        if (type != null) {
            p = ProblemRenderer.problem(type, detail(type), null);
            status = type.status();
        } else {
            HttpStatus s = HttpStatus.resolve(status);
            if (s == null) {
                s = HttpStatus.BAD_REQUEST;
                status = 400;
            }
            p = ProblemDetail.forStatusAndDetail(s, "the request could not be handled (" + s.getReasonPhrase() + ")");
            p.setTitle(s.getReasonPhrase());
        }
        if (uri instanceof String u && u.startsWith("/") && u.length() <= 256) {
            try {
                p.setInstance(URI.create(u));
            } catch (IllegalArgumentException ignored) {
                // not a valid URI reference: leave it out
            }
        }
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(p);
    }

    private static String detail(ProblemType t) {
        return switch (t) {
            case INVALID_REQUEST -> "the request is malformed";
            case UNAUTHORIZED -> "send an API key as 'Authorization: Bearer <key>'";
            case NOT_FOUND -> "no endpoint here; see the API in README.md";
            case BODY_TOO_LARGE -> "the request body is too large";
            case INTERNAL -> "the server failed to handle this request; it has been logged";
            default -> t.title();
        };
    }
}
