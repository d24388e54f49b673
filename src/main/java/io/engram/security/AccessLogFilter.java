package io.engram.security;

import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.web.filter.OncePerRequestFilter;
import org.springframework.web.servlet.HandlerMapping;
import tools.jackson.databind.ObjectMapper;

/**
 * One JSON object per request on the logger {@code engram.access}: time, method, the route template (so state ids
 * are not logged: {@code /v1/states/{id}}), status, duration, tenant, bytes in, client address. Never a body,
 * prompt, document or key. Streams are logged when they end. The probes are not logged.
 */
public final class AccessLogFilter extends OncePerRequestFilter {

    private static final Logger log = LoggerFactory.getLogger("engram.access");

    private final ObjectMapper json;

    public AccessLogFilter(ObjectMapper json) {
        this.json = json;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
            throws ServletException, IOException {
        if (!log.isInfoEnabled() || SecurityFilter.OPEN.contains(SecurityFilter.path(req))) {
            chain.doFilter(req, res);
            return;
        }
        long t0 = System.nanoTime();
        boolean failed = false;
        try {
            chain.doFilter(req, res);
        } catch (IOException | ServletException | RuntimeException e) {
            failed = true;
            log(req, res, t0, 500);
            throw e;
        } finally {
            if (!failed) {
                if (req.isAsyncStarted()) {
                    req.getAsyncContext().addListener(new AsyncListener() {
                        @Override
                        public void onComplete(AsyncEvent e) {
                            log(req, res, t0, null);
                        }

                        @Override
                        public void onTimeout(AsyncEvent e) {}

                        @Override
                        public void onError(AsyncEvent e) {}

                        @Override
                        public void onStartAsync(AsyncEvent e) {}
                    });
                } else {
                    log(req, res, t0, null);
                }
            }
        }
    }

    private void log(HttpServletRequest req, HttpServletResponse res, long t0, Integer status) {
        try {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("ts", Instant.now().toString());
            line.put("method", req.getMethod());
            Object route = req.getAttribute(HandlerMapping.BEST_MATCHING_PATTERN_ATTRIBUTE);
            if (route != null) {
                line.put("route", route.toString());
            } else {
                String path = SecurityFilter.path(req); // no handler: an unknown path, or refused before routing
                line.put("path", path.length() > 128 ? path.substring(0, 128) + "..." : path);
            }
            line.put("status", status != null ? status : res.getStatus());
            line.put("duration_ms", Math.round((System.nanoTime() - t0) / 1e4) / 100.0);
            Object tenant = req.getAttribute(SecurityFilter.TENANT);
            line.put("tenant", tenant == null ? null : tenant.toString());
            long in = req.getContentLengthLong();
            line.put("bytes_in", in >= 0 ? in : null);
            line.put("remote", req.getRemoteAddr());
            log.info(json.writeValueAsString(line));
        } catch (RuntimeException e) {
            log.warn("access log failed: {}", e.toString());
        }
    }
}
