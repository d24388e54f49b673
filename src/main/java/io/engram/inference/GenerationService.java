package io.engram.inference;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LoadedModel;
import io.engram.model.ModelState;
import io.engram.state.StateIds;
import io.engram.state.StateMeta;
import io.engram.state.StateService;
import io.engram.state.StateStore;
import io.engram.state.StoredState;
import io.engram.tokenizer.StreamingDecoder;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.springframework.stereotype.Service;

/**
 * Generation from memory states: resolve and combine the states, read the prompt, then sample token by token,
 * decoding text without splitting UTF-8 characters and holding back text that may start a stop string.
 * Validation runs on the caller's thread; model work runs on the {@link DeviceScheduler}'s thread.
 */
@Service
public class GenerationService {

    private final StateService states;
    private final StateStore store;
    private final DeviceScheduler scheduler;
    private final EngramProperties props;
    private final Clock clock;
    private final EngramMetrics metrics;

    public GenerationService(StateService states, StateStore store, DeviceScheduler scheduler, EngramProperties props, Clock clock,
                             EngramMetrics metrics) {
        this.states = states;
        this.store = store;
        this.scheduler = scheduler;
        this.props = props;
        this.clock = clock;
        this.metrics = metrics;
    }

    /** What to generate. {@code prompt} and {@code promptTokens} are mutually exclusive; both may be null. */
    public record Request(String model, List<StateService.Ref> states, String prompt, int[] promptTokens,
                          Integer maxTokens, SamplingParams sampling, List<String> stop, boolean wantLogprobs,
                          boolean saveState) {}

    /** Receives each token as it is generated (on the device thread). */
    public interface Sink {
        /** @param text the new text this token completes (may be empty) */
        void token(String text, SampledToken token);

        /** Text released at the end without a token of its own (a held-back partial stop match). */
        default void tail(String text) {}

        /** Polled before every step: true stops the generation (client gone). */
        default boolean cancelled() {
            return false;
        }
    }

    public record Usage(long stateTokens, int promptTokens, int completionTokens) {}

    public record Timings(double queueMs, double stateLoadMs, double promptMs, double ttftMs, double decodeTokensPerS) {}

    public record Result(String model, String text, int[] tokens, String finishReason, List<SampledToken> logprobs,
                         String stateId, Usage usage, Timings timings) {}

    /** A validated request, ready for the device. */
    public record Prepared(LoadedModel model, StateService.Start start, int[] prompt, int maxTokens,
                           SamplingParams sampling, List<String> stop, boolean wantLogprobs, boolean saveState,
                           long createdNanos) {}

    public Prepared prepare(Request r) {
        long t0 = System.nanoTime();
        int limit = props.limits().maxTokens();
        int maxTokens = r.maxTokens() == null ? Math.min(128, limit) : r.maxTokens();
        if (maxTokens < 1 || maxTokens > limit) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, "'max_tokens' is " + maxTokens
                    + "; it must be between 1 and " + limit + " (engram.limits.max-tokens)");
        }
        List<String> stop = r.stop() == null ? List.of() : r.stop();
        for (String s : stop) {
            if (s == null || s.isEmpty()) throw new EngramException(ProblemType.INVALID_REQUEST, "stop strings must be non-empty");
        }
        StateService.Start start = states.start(r.model(), r.states());
        LoadedModel model = states.model(start.model());
        int[] prompt = states.tokens(model, r.prompt(), r.promptTokens(), "prompt", true);
        if (prompt.length > props.limits().maxDocumentTokens()) {
            throw new EngramException(ProblemType.DOCUMENT_TOO_LONG, "the prompt has " + prompt.length
                    + " tokens; the limit is " + props.limits().maxDocumentTokens() + " (engram.limits.max-document-tokens)");
        }
        if (prompt.length == 0 && start.lastLogits() == null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, start.id() == null
                    ? "nothing to continue from: give a 'prompt' (or 'prompt_tokens') or 'states'"
                    : "these states carry no next-token logits: give a 'prompt' to continue from them");
        }
        SamplingParams sampling = r.sampling() == null ? SamplingParams.greedy() : r.sampling();
        return new Prepared(model, start, prompt, maxTokens, sampling, stop, r.wantLogprobs(), r.saveState(), t0);
    }

    /** Queues the generation on the device. Cancelling the future stops it within one step. */
    public CompletableFuture<Result> submit(Prepared p, Sink sink) {
        CompletableFuture<Result>[] self = new CompletableFuture[1];
        EngramMetrics.Request m = metrics.requestQueued(p.model().id(), EngramMetrics.GENERATE, p.createdNanos());
        CompletableFuture<Result> f = scheduler.submit(() -> run(p, sink, () -> self[0] != null && self[0].isCancelled(), m));
        f.whenComplete((r, e) -> m.finished(e == null ? r.finishReason() : EngramMetrics.outcomeOf(e)));
        self[0] = f;
        return f;
    }

    public Result generate(Request r, Sink sink) {
        return Await.get(submit(prepare(r), sink), props.scheduler().requestTimeout());
    }

    private Result run(Prepared p, Sink sink, java.util.function.BooleanSupplier futureCancelled, EngramMetrics.Request m) {
        long tRun = System.nanoTime();
        m.started(p.prompt().length);
        long deadline = p.createdNanos() + props.scheduler().requestTimeout().toNanos();
        double queueMs = (tRun - p.createdNanos()) / 1e6 - p.start().loadMs();
        ModelState state = p.start().state();
        var net = p.model().model();
        float[] logits = p.prompt().length > 0 ? net.forward(state, p.prompt(), true) : p.start().lastLogits().clone();
        long tPrompt = System.nanoTime();

        Sampler sampler = new Sampler(p.sampling());
        StreamingDecoder decoder = p.model().tokenizer().newStreamingDecoder();
        StopMatcher stop = new StopMatcher(p.stop());
        List<Integer> tokens = new ArrayList<>();
        List<SampledToken> logprobs = p.wantLogprobs() ? new ArrayList<>() : null;
        StringBuilder text = new StringBuilder();
        String finish = "length";
        long tFirst = 0;
        boolean lastFed = true;
        for (int i = 0; i < p.maxTokens(); i++) {
            if (sink.cancelled() || futureCancelled.getAsBoolean()) {
                finish = "cancelled";
                break;
            }
            if (System.nanoTime() > deadline) {
                throw new EngramException(ProblemType.TIMEOUT, "generation exceeded engram.scheduler.request-timeout", 5L);
            }
            SampledToken t = sampler.sample(logits);
            sampler.accept(t.token());
            tokens.add(t.token());
            lastFed = false;
            if (logprobs != null) logprobs.add(t);
            String piece = stop.push(decoder.push(t.token()));
            if (i == 0) tFirst = System.nanoTime();
            text.append(piece);
            sink.token(piece, t);
            m.token();
            if (stop.stopped()) {
                finish = "stop";
                break;
            }
            if (i + 1 < p.maxTokens()) {
                logits = net.forward(state, new int[] {t.token()}, true);
                lastFed = true;
            }
        }
        if (!stop.stopped()) {
            String tail = stop.push(decoder.flush()) + stop.flush();
            if (!tail.isEmpty()) {
                text.append(tail);
                sink.tail(tail);
            }
        }
        int[] generated = tokens.stream().mapToInt(Integer::intValue).toArray();
        long tEnd = System.nanoTime();

        String stateId = null;
        if (p.saveState()) {
            float[] last = logits;
            if (!lastFed && generated.length > 0) last = net.forward(state, new int[] {generated[generated.length - 1]}, true);
            stateId = save(p, state, generated, last);
        }
        double decodeS = (tEnd - tFirst) / 1e9;
        double tps = generated.length > 1 && decodeS > 0 ? (generated.length - 1) / decodeS : 0;
        Timings timings = new Timings(round(queueMs), round(p.start().loadMs()), round((tPrompt - tRun) / 1e6),
                round(tFirst == 0 ? 0 : (tFirst - p.createdNanos()) / 1e6), round(tps));
        Usage usage = new Usage(p.start().tokens(), p.prompt().length, generated.length);
        return new Result(p.model().id(), text.toString(), generated, finish, logprobs, stateId, usage, timings);
    }

    private String save(Prepared p, ModelState state, int[] generated, float[] lastLogits) {
        int[] read = Arrays.copyOf(p.prompt(), p.prompt().length + generated.length);
        System.arraycopy(generated, 0, read, p.prompt().length, generated.length);
        String id = StateIds.primed(p.model().fingerprint(), p.start().id(), read);
        Instant now = clock.instant();
        StateMeta meta = new StateMeta(id, p.model().id(), "generated", read.length, p.start().tokens() + read.length,
                p.start().id(), state.byteSize(), now, now.plusSeconds(props.limits().defaultTtlSeconds()));
        store.put(new StoredState(meta, state, lastLogits));
        return id;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
