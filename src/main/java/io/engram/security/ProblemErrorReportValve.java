package io.engram.security;

import io.engram.error.ProblemType;
import java.io.IOException;
import java.io.Writer;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.coyote.ActionCode;
import org.springframework.http.HttpStatus;

/**
 * Tomcat's error page for what Tomcat refuses before Spring sees it (a request line it cannot parse, an encoded
 * {@code /} or a bad {@code %} escape in the path): a problem-details body instead of Tomcat's HTML page, with no
 * server version, message or stack trace. Installed as the host's error report valve by {@link SecurityConfig}.
 */
public class ProblemErrorReportValve extends ErrorReportValve {

    @Override
    protected void report(Request request, Response response, Throwable throwable) {
        int status = response.getStatus();
        if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) return;
        AtomicBoolean io = new AtomicBoolean(false);
        response.getCoyoteResponse().action(ActionCode.IS_IO_ALLOWED, io);
        if (!io.get()) return;
        ProblemType type = switch (status) {
            case 400 -> ProblemType.INVALID_REQUEST;
            case 404 -> ProblemType.NOT_FOUND;
            case 405 -> ProblemType.METHOD_NOT_ALLOWED;
            case 406 -> ProblemType.NOT_ACCEPTABLE;
            case 413 -> ProblemType.BODY_TOO_LARGE;
            case 415 -> ProblemType.UNSUPPORTED_MEDIA_TYPE;
            case 503 -> ProblemType.UNAVAILABLE;
            default -> status >= 500 ? ProblemType.INTERNAL : null;
        };
        String json;
        if (type != null) {
            json = "{\"type\":\"" + type.uri() + "\",\"title\":\"" + type.title() + "\",\"status\":" + type.status()
                    + ",\"detail\":\"" + (status >= 500 ? "the server failed to handle this request"
                    : "the request was refused by the HTTP server: " + type.title().toLowerCase()) + "\"}";
        } else {
            HttpStatus s = HttpStatus.resolve(status);
            String phrase = s == null ? "Error" : s.getReasonPhrase();
            json = "{\"type\":\"about:blank\",\"title\":\"" + phrase + "\",\"status\":" + status
                    + ",\"detail\":\"the request was refused by the HTTP server\"}";
        }
        try {
            response.setContentType("application/problem+json");
            response.setCharacterEncoding("utf-8");
            Writer w = response.getReporter();
            if (w != null) {
                w.write(json);
                response.finishResponse();
            }
        } catch (IOException | IllegalStateException e) {
            // the client is gone or the response is committed: nothing more to say
        }
    }
}
