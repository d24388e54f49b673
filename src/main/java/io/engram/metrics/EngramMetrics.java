package io.engram.metrics;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.springframework.stereotype.Component;
import org.springframework.web.context.request.RequestContextHolder;
import org.springframework.web.context.request.ServletRequestAttributes;

/**
 * Every Engram metric, named here once. Micrometer names ({@code engram.time.to.first.token}) become the
 * Prometheus names of the README's table ({@code engram_time_to_first_token_seconds}) at
 * {@code /actuator/prometheus}.
 *
 * <p>Tags are bounded: {@code model}, {@code endpoint}, {@code outcome}, {@code store}, {@code tier} and
 * {@code operation}, never a state id, a hash or a prompt. Latency histograms have fixed service-level buckets (no
 * client-side percentiles), so they aggregate across replicas with {@code histogram_quantile}.
 */
@Component
public class EngramMetrics {

    /** The {@code endpoint} tag of {@code POST /v1/generate}. */
    public static final String GENERATE = "generate";

    /**
     * The {@code endpoint} tag of the HTTP request being handled on this thread: {@code generate},
     * {@code completions}, {@code chat_completions}, or {@code other}; {@code internal} outside a request (the
     * benchmark). A fixed set, never the raw path.
     */
    public static String currentEndpoint() {
        if (!(RequestContextHolder.getRequestAttributes() instanceof ServletRequestAttributes a)) return "internal";
        return switch (a.getRequest().getRequestURI()) {
            case "/v1/generate" -> GENERATE;
            case "/v1/completions" -> "completions";
            case "/v1/chat/completions" -> "chat_completions";
            default -> "other";
        };
    }

    private static final Duration[] TTFT_BUCKETS = ms(10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000);
    private static final Duration[] ITL_BUCKETS = ms(1, 2.5, 5, 10, 20, 40, 60, 80, 100, 150, 200, 300, 500, 1000);
    private static final Duration[] REQUEST_BUCKETS = ms(50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000);
    private static final Duration[] QUEUE_BUCKETS = ms(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000);
    private static final Duration[] PRIME_BUCKETS = ms(5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000);
    private static final Duration[] STORE_BUCKETS = ms(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000);
    private static final Duration[] COMBINE_BUCKETS = ms(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000);

    private final MeterRegistry registry;

    public EngramMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public MeterRegistry registry() {
        return registry;
    }

    // ---- the device scheduler -------------------------------------------------------------------------------------

    /**
     * Registers {@code engram_requests_running} and {@code engram_requests_waiting}: the scheduler owns the numbers,
     * the gauges read them at every scrape. Registering again replaces nothing (the first supplier stays).
     */
    public void schedulerGauges(Supplier<Number> running, Supplier<Number> waiting) {
        Gauge.builder("engram.requests.running", running).strongReference(true)
                .description("Requests (generations and primes) executing on the device now").register(registry);
        Gauge.builder("engram.requests.waiting", waiting).strongReference(true)
                .description("Requests queued for the device").register(registry);
    }

    /** {@code engram_requests_waiting_capacity}: the queue bound ({@code engram.scheduler.max-queued}). */
    public void queueCapacity(int capacity) {
        Gauge.builder("engram.requests.waiting.capacity", () -> capacity).strongReference(true)
                .description("Waiting requests beyond which new ones are refused with 429").register(registry);
    }

    /** A request entered the device queue; the returned tracker records the rest of its life. */
    public Request requestQueued(String model, String endpoint, long arrivedNanos) {
        return new Request(model, endpoint, arrivedNanos, System.nanoTime());
    }

    public void queueWait(String model, String endpoint, Duration d) {
        Timer.builder("engram.queue.wait").description("Time a request waited for the device")
                .serviceLevelObjectives(QUEUE_BUCKETS).tags("model", model, "endpoint", endpoint)
                .register(registry).record(d);
    }

    public void firstToken(String model, String endpoint, Duration sinceArrival) {
        ttft(model, endpoint).record(sinceArrival);
    }

    public void interToken(String model, String endpoint, Duration sincePreviousToken) {
        itl(model, endpoint).record(sincePreviousToken);
    }

    /**
     * @param outcome a finish reason ({@code length}, {@code stop}, {@code cancelled}), or for a failure
     *                {@code timeout}, {@code unavailable} (stopped by shutdown) or {@code error}
     */
    public void requestFinished(String model, String endpoint, String outcome, Duration sinceArrival) {
        Timer.builder("engram.request.duration").description("Time from arrival to the last token (or the failure)")
                .serviceLevelObjectives(REQUEST_BUCKETS).tags("model", model, "endpoint", endpoint, "outcome", outcome)
                .register(registry).record(sinceArrival);
    }

    public void promptTokens(String model, long n) {
        if (n > 0) promptCounter(model).increment(n);
    }

    public void tokensGenerated(String model, long n) {
        if (n > 0) generationCounter(model).increment(n);
    }

    /** The outcome tag of a request that ended with {@code error} (null when it did not fail). */
    public static String outcomeOf(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        if (e == null) return "ok";
        if (e instanceof CancellationException) return "cancelled";
        if (e instanceof EngramException x && x.type() == ProblemType.TIMEOUT) return "timeout";
        if (e instanceof EngramException x && x.type() == ProblemType.UNAVAILABLE) return "unavailable";
        return "error";
    }

    // ---- states ---------------------------------------------------------------------------------------------------

    /** A document was read into a new state: {@code tokens} tokens in {@code d} of model time (queue included). */
    public void primed(String model, long tokens, Duration d) {
        primeCounter(model).increment(tokens);
        Timer.builder("engram.prime.duration").description("Time to prime one document (queue included)")
                .serviceLevelObjectives(PRIME_BUCKETS).tag("model", model).register(registry).record(d);
    }

    /** Several states were averaged into one (for {@code /v1/states/combine} or a multi-state generate). */
    public void combined(String model, Duration d) {
        Timer.builder("engram.state.combine.duration").description("Time to take the weighted mean of states")
                .serviceLevelObjectives(COMBINE_BUCKETS).tag("model", model).register(registry).record(d);
    }

    /** A state was looked up by id in the cache tier {@code local} (this process) or {@code redis}. */
    public void cacheLookup(String tier, boolean hit) {
        lookups(tier).increment();
        Counter hits = hits(tier);
        if (hit) hits.increment();
    }

    /**
     * A tier whose lookups and hits are counted by {@code source} itself (a store's own cache), read at every
     * scrape. {@code source} must live as long as the application (the meters hold it weakly).
     */
    public <T> void cacheTierCounts(String tier, T source, ToDoubleFunction<T> lookups, ToDoubleFunction<T> hits) {
        FunctionCounter.builder("engram.state.cache.lookups", source, lookups).description("State loads by id")
                .tag("tier", tier).register(registry);
        FunctionCounter.builder("engram.state.cache.hits", source, hits).description("State loads by id that found the state")
                .tag("tier", tier).register(registry);
    }

    /** Creates a tier's lookup and hit counters at 0, so hit-rate rules see the tier before its first lookup. */
    public void cacheTier(String tier) {
        lookups(tier);
        hits(tier);
    }

    /** @param outcome {@code ok}, {@code miss} (nothing under that id) or {@code error} */
    public void storeOp(String store, String operation, String outcome, Duration d) {
        Timer.builder("engram.state.store.operations").description("State store calls")
                .serviceLevelObjectives(STORE_BUCKETS)
                .tags("store", store, "operation", operation, "outcome", outcome).register(registry).record(d);
    }

    /** {@code engram_state_bytes_stored{store}}; the supplier answers NaN when the store cannot tell. */
    public void storeBytes(String store, Supplier<Number> bytes) {
        Gauge.builder("engram.state.bytes.stored", bytes).strongReference(true).tag("store", store)
                .description("Bytes of state held by the store").register(registry);
    }

    /**
     * {@code engram_model_info}: 1 per loaded model, its identity in the tags. The model's token counters are
     * created at 0 here too, so that {@code rate()} sees the first request's tokens.
     */
    public void modelLoaded(String model, String architecture, String dtype, String device) {
        Gauge.builder("engram.model.info", () -> 1).strongReference(true)
                .tags("model", model, "architecture", architecture, "dtype", dtype, "device", device)
                .description("A loaded model (always 1)").register(registry);
        promptCounter(model);
        generationCounter(model);
        primeCounter(model);
    }

    // ---- meters shared by the tracker ------------------------------------------------------------------------------

    private Timer ttft(String model, String endpoint) {
        return Timer.builder("engram.time.to.first.token").description("Time from arrival to the first generated token")
                .serviceLevelObjectives(TTFT_BUCKETS).tags("model", model, "endpoint", endpoint).register(registry);
    }

    private Timer itl(String model, String endpoint) {
        return Timer.builder("engram.inter.token.latency").description("Time between two generated tokens of a request")
                .serviceLevelObjectives(ITL_BUCKETS).tags("model", model, "endpoint", endpoint).register(registry);
    }

    private Counter lookups(String tier) {
        return Counter.builder("engram.state.cache.lookups").description("State loads by id").tag("tier", tier)
                .register(registry);
    }

    private Counter hits(String tier) {
        return Counter.builder("engram.state.cache.hits").description("State loads by id that found the state")
                .tag("tier", tier).register(registry);
    }

    private Counter primeCounter(String model) {
        return Counter.builder("engram.prime.tokens").description("Document tokens read into new states")
                .tag("model", model).register(registry);
    }

    private Counter promptCounter(String model) {
        return Counter.builder("engram.prompt.tokens").description("Prompt tokens read by generations")
                .tag("model", model).register(registry);
    }

    private Counter generationCounter(String model) {
        return Counter.builder("engram.generation.tokens").description("Tokens generated")
                .tag("model", model).register(registry);
    }

    /**
     * One request's life: queued, {@link #started started} on the device, one {@link #token} per generated token,
     * then {@link #finished}. Meters are resolved once, so per-token calls are a clock read and two adds.
     * {@code started} and {@code token} are called from the thread that runs the request; {@code finished} may
     * come from another.
     */
    public final class Request {
        private final String model;
        private final String endpoint;
        private final long arrived;
        private final long queued;
        private final Timer ttft;
        private final Timer itl;
        private final Counter generated;
        private long last;
        private boolean done;

        Request(String model, String endpoint, long arrived, long queued) {
            this.model = model;
            this.endpoint = endpoint;
            this.arrived = arrived;
            this.queued = queued;
            this.ttft = ttft(model, endpoint);
            this.itl = itl(model, endpoint);
            this.generated = generationCounter(model);
        }

        /** The device took the request: records the queue wait and counts the prompt. */
        public void started(int promptTokens) {
            queueWait(model, endpoint, Duration.ofNanos(System.nanoTime() - queued));
            promptTokens(model, promptTokens);
        }

        /** A token was generated (and handed to the client). */
        public void token() {
            long now = System.nanoTime();
            if (last == 0) ttft.record(Duration.ofNanos(now - arrived));
            else itl.record(Duration.ofNanos(now - last));
            last = now;
            generated.increment();
        }

        /** The request ended: a finish reason, or {@link #outcomeOf} of its failure. Only the first call counts. */
        public synchronized void finished(String outcome) {
            if (done) return;
            done = true;
            requestFinished(model, endpoint, outcome, Duration.ofNanos(System.nanoTime() - arrived));
        }
    }

    private static Duration[] ms(double... millis) {
        Duration[] out = new Duration[millis.length];
        for (int i = 0; i < millis.length; i++) out[i] = Duration.ofNanos(Math.round(millis[i] * 1_000_000));
        return out;
    }
}
