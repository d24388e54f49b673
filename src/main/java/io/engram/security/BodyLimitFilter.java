package io.engram.security;

import io.engram.error.ProblemRenderer;
import io.engram.error.ProblemType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.web.filter.OncePerRequestFilter;
import tools.jackson.databind.ObjectMapper;

/**
 * {@code engram.limits.max-body-bytes} for every request body except blob imports (which are bounded by the
 * largest state a loaded model makes). A declared {@code Content-Length} over the limit is refused before anything
 * is read; a chunked body is counted as it is read and fails with {@link TooLarge} past the limit, which the
 * {@link io.engram.api.ProblemHandler} turns into the same {@code 413 body-too-large}.
 *
 * <p>It also refuses form and multipart bodies ({@code 415}) before anything parses them: the API takes none, and
 * the container's form parser would otherwise read (and fail on) them first.
 */
public final class BodyLimitFilter extends OncePerRequestFilter {

    static final String IMPORT = "/v1/states/import";

    private final long max;
    private final ObjectMapper json;

    public BodyLimitFilter(long maxBytes, ObjectMapper json) {
        this.max = maxBytes;
        this.json = json;
    }

    /** Thrown by the counting stream; an IOException so that readers report it as a failed read. */
    public static final class TooLarge extends IOException {
        public final long max;

        TooLarge(long max) {
            super("the request body is larger than " + max + " bytes");
            this.max = max;
        }
    }

    public static String detail(long max) {
        return "the request body is larger than " + max + " bytes (engram.limits.max-body-bytes)";
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
            throws ServletException, IOException {
        String ct = req.getContentType() == null ? "" : req.getContentType().toLowerCase(java.util.Locale.ROOT);
        if (ct.startsWith("application/x-www-form-urlencoded") || ct.startsWith("multipart/")) {
            ProblemRenderer.write(json, req, res, ProblemType.UNSUPPORTED_MEDIA_TYPE,
                    "send the body as application/json (application/octet-stream for blob imports)", null);
            return;
        }
        if (SecurityFilter.path(req).equals(IMPORT)) {
            chain.doFilter(req, res);
            return;
        }
        if (req.getContentLengthLong() > max) {
            ProblemRenderer.write(json, req, res, ProblemType.BODY_TOO_LARGE, detail(max), null);
            return;
        }
        chain.doFilter(new Limited(req, max), res);
    }

    private static final class Limited extends HttpServletRequestWrapper {
        private final long max;
        private ServletInputStream in;

        Limited(HttpServletRequest req, long max) {
            super(req);
            this.max = max;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (in == null) in = new Counting(super.getInputStream(), max);
            return in;
        }

        @Override
        public java.io.BufferedReader getReader() throws IOException {
            String enc = getCharacterEncoding() == null ? "UTF-8" : getCharacterEncoding();
            return new java.io.BufferedReader(new java.io.InputStreamReader(getInputStream(), enc));
        }
    }

    private static final class Counting extends ServletInputStream {
        private final ServletInputStream in;
        private final long max;
        private long read;

        Counting(ServletInputStream in, long max) {
            this.in = in;
            this.max = max;
        }

        private void count(long n) throws TooLarge {
            if (n > 0 && (read += n) > max) throw new TooLarge(max);
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) count(1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            count(n);
            return n;
        }

        @Override
        public boolean isFinished() {
            return in.isFinished();
        }

        @Override
        public boolean isReady() {
            return in.isReady();
        }

        @Override
        public void setReadListener(ReadListener l) {
            in.setReadListener(l);
        }
    }
}
