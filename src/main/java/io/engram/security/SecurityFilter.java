package io.engram.security;

import io.engram.error.EngramException;
import io.engram.error.ProblemRenderer;
import io.engram.error.ProblemType;
import io.engram.tenant.Tenant;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Set;
import org.springframework.http.HttpHeaders;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.ObjectMapper;

/**
 * Authentication and the per-key request rate. With keys configured, every path needs
 * {@code Authorization: Bearer <key>} except the liveness and readiness probes; a missing or wrong key gets
 * {@code 401} with {@code WWW-Authenticate: Bearer}, a key over its requests per second {@code 429} with
 * Retry-After. The request's {@link Tenant} is put in the request attribute {@link #TENANT}, from which
 * controllers take it as a parameter. With no keys, every request is {@link Tenant#DEFAULT}.
 */
public final class SecurityFilter extends OncePerRequestFilter {

    /** The request attribute holding the {@link Tenant}. */
    public static final String TENANT = "engram.tenant";

    /** Paths that answer without a key: the Kubernetes probes (they show only UP/DOWN and component names). */
    static final Set<String> OPEN = Set.of("/actuator/health/liveness", "/actuator/health/readiness");

    private final ApiKeys keys;
    private final RateLimits limits;
    private final ObjectMapper json;

    public SecurityFilter(ApiKeys keys, RateLimits limits, ObjectMapper json) {
        this.keys = keys;
        this.limits = limits;
        this.json = json;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
            throws ServletException, IOException {
        if (!keys.enabled()) {
            req.setAttribute(TENANT, Tenant.DEFAULT);
            chain.doFilter(req, res);
            return;
        }
        if (OPEN.contains(path(req))) {
            chain.doFilter(req, res);
            return;
        }
        String presented = bearer(req.getHeader(HttpHeaders.AUTHORIZATION));
        ApiKeys.Entry key = keys.match(presented);
        if (key == null) {
            res.setHeader(HttpHeaders.WWW_AUTHENTICATE, presented == null ? "Bearer realm=\"engram\""
                    : "Bearer realm=\"engram\", error=\"invalid_token\"");
            ProblemRenderer.write(json, req, res, ProblemType.UNAUTHORIZED, presented == null
                    ? "send an API key as 'Authorization: Bearer <key>'" : "the API key is not valid", null);
            return;
        }
        RateLimits.KeyLimits l = limits.of(key);
        try {
            l.request();
        } catch (EngramException e) {
            req.setAttribute(TENANT, Tenant.authenticated(key.tenant(), l)); // for the access log
            ProblemRenderer.write(json, req, res, e);
            return;
        }
        req.setAttribute(TENANT, Tenant.authenticated(key.tenant(), l));
        chain.doFilter(req, res);
    }

    /** The servlet path as the container decoded and normalised it (no {@code ..}, no {@code ;params}). */
    static String path(HttpServletRequest req) {
        String p = req.getServletPath();
        if (req.getPathInfo() != null) p += req.getPathInfo();
        return p;
    }

    /** The key of {@code Authorization: Bearer <key>} (scheme in any case), or null. */
    static String bearer(String header) {
        if (header == null) return null;
        String h = header.strip();
        if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) return null;
        String key = h.substring(7).strip();
        return key.isEmpty() ? null : key;
    }
}
