package io.engram.lifecycle;

import io.engram.error.ProblemType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The first step of shutdown (SIGTERM, or the context closing):
 * <ol>
 *   <li>readiness goes DOWN ({@code REFUSING_TRAFFIC}) while the listener is still open;</li>
 *   <li>new API requests are answered {@code 503} with {@code Retry-After} and {@code Connection: close}, so clients
 *       retry on another replica (actuator paths keep answering, so probes see the state);</li>
 *   <li>after {@code engram.shutdown.drain-delay}, Spring's graceful shutdown of the web server
 *       ({@code server.shutdown: graceful}) lets requests and streams already running finish, for at most
 *       {@code spring.lifecycle.timeout-per-shutdown-phase}; the device scheduler and the models close after it.</li>
 * </ol>
 */
@Component
public class ShutdownGate extends OncePerRequestFilter implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(ShutdownGate.class);

    private final ApplicationContext context;
    private final ShutdownProperties props;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean running;

    public ShutdownGate(ApplicationContext context, ShutdownProperties props) {
        this.context = context;
        this.props = props;
    }

    /** Whether shutdown has begun. */
    public boolean closing() {
        return closing.get();
    }

    @EventListener
    public void onClose(ContextClosedEvent e) {
        if (e.getApplicationContext() == context) beginShutdown();
    }

    private void beginShutdown() {
        if (closing.compareAndSet(false, true)) {
            log.info("Shutting down: readiness DOWN, new requests get 503; running requests may finish");
            AvailabilityChangeEvent.publish(context, ReadinessState.REFUSING_TRAFFIC);
        }
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        return !closing.get() || request.getRequestURI().startsWith("/actuator");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain)
            throws ServletException, IOException {
        ProblemType t = ProblemType.UNAVAILABLE;
        res.setStatus(t.status());
        res.setHeader(HttpHeaders.RETRY_AFTER, "1");
        res.setHeader(HttpHeaders.CONNECTION, "close");
        res.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        res.getWriter().write("{\"type\":\"" + t.uri() + "\",\"title\":\"" + t.title() + "\",\"status\":" + t.status()
                + ",\"detail\":\"this replica is shutting down; retry the request (another replica will take it)\""
                + ",\"instance\":\"" + req.getRequestURI().replace("\\", "").replace("\"", "") + "\"}");
    }

    // SmartLifecycle: stopped first (highest phase), before the web server's graceful shutdown.

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        beginShutdown();
        long ms = props.drainDelay().toMillis();
        if (ms > 0) {
            log.info("Draining for {} ms before the web server stops taking connections", ms);
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE;
    }
}
