package io.engram.inference;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LoadedModel;
import io.engram.model.ModelState;
import io.engram.state.StateIds;
import io.engram.state.StateMeta;
import io.engram.state.StateService;
import io.engram.state.StateStore;
import io.engram.state.StoredState;
import java.time.Clock;
import java.time.Instant;
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

    /** Post-processing of finished generations (storing saved states), never on the device thread. */
    private static final java.util.concurrent.Executor AFTER_DEVICE = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "engram-after-device");
        t.setDaemon(true);
        return t;
    });

    private final StateService states;
    private final StateStore store;
    private final DeviceScheduler scheduler;
    private final EngramProperties props;
    private final Clock clock;

    public GenerationService(StateService states, StateStore store, DeviceScheduler scheduler, EngramProperties props, Clock clock) {
        this.states = states;
        this.store = store;
        this.scheduler = scheduler;
        this.props = props;
        this.clock = clock;
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
        long total = start.tokens() + prompt.length;
        if (total > props.limits().maxDocumentTokens()) {
            throw new EngramException(ProblemType.DOCUMENT_TOO_LONG, "the states hold " + start.tokens()
                    + " tokens and the prompt adds " + prompt.length + "; the total limit is "
                    + props.limits().maxDocumentTokens() + " (engram.limits.max-document-tokens)");
        }
        if (prompt.length == 0 && start.lastLogits() == null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, start.id() == null
                    ? "nothing to continue from: give a 'prompt' (or 'prompt_tokens') or 'states'"
                    : "these states carry no next-token logits: give a 'prompt' to continue from them");
        }
        SamplingParams sampling = r.sampling() == null ? SamplingParams.greedy() : r.sampling();
        return new Prepared(model, start, prompt, maxTokens, sampling, stop, r.wantLogprobs(), r.saveState(), t0);
    }

    /**
     * Queues the generation on the device. Cancelling the returned future, or a sink that reports
     * {@code cancelled()}, takes the sequence out of the batch before its next step.
     */
    public CompletableFuture<Result> submit(Prepared p, Sink sink) {
        GenerationSequence seq = new GenerationSequence(p, sink, props.scheduler().requestTimeout().toNanos());
        scheduler.submit(seq);
        CompletableFuture<Result> result = seq.future.thenApplyAsync(this::finish, AFTER_DEVICE);
        result.whenComplete((r, e) -> {
            if (result.isCancelled()) seq.cancel();
        });
        return result;
    }

    public Result generate(Request r, Sink sink) {
        return Await.get(submit(prepare(r), sink), props.scheduler().requestTimeout());
    }

    /** Off the device thread: store a saved state, and shape the result. */
    private Result finish(GenerationSequence.Outcome o) {
        Prepared p = o.prepared();
        String stateId = null;
        if (p.saveState() && o.lastLogits() != null) stateId = save(p, p.start().state(), o.tokens(), o.lastLogits());
        Timings timings = new Timings(round(o.queueMs()), round(p.start().loadMs()), round(o.promptMs()),
                round(o.ttftMs()), round(o.decodeTokensPerS()));
        Usage usage = new Usage(p.start().tokens(), p.prompt().length, o.tokens().length);
        return new Result(p.model().id(), o.text(), o.tokens(), o.finishReason(), o.logprobs(), stateId, usage, timings);
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
