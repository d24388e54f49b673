package io.engram.inference;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.lifecycle.WorkerPool;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LoadedModel;
import io.engram.model.Memory;
import io.engram.model.ModelState;
import io.engram.scheduler.Await;
import io.engram.scheduler.DeviceScheduler;
import io.engram.scheduler.Mixture;
import io.engram.scheduler.ScoreSequence;
import io.engram.state.StateIds;
import io.engram.state.StateMixer;
import io.engram.state.StateService;
import io.engram.tenant.Tenant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.stereotype.Service;

/**
 * Generation from memory states: resolve and combine the states, read the prompt, then sample token by token,
 * decoding text without splitting UTF-8 characters and holding back text that may start a stop string.
 * Validation runs on the caller's thread; model work runs on the {@link DeviceScheduler}'s thread.
 */
@Service
public class GenerationService {

    /** The bean name of {@link #afterDevice}'s pool. */
    public static final String AFTER_DEVICE = "afterDevice";

    private final StateService states;
    private final StateMixer mixer;
    private final DeviceScheduler scheduler;
    private final EngramProperties props;
    private final EngramMetrics metrics;
    /** Post-processing of finished generations (storing saved states), never on the device thread. */
    private final Executor afterDevice;

    public GenerationService(StateService states, StateMixer mixer, DeviceScheduler scheduler, EngramProperties props,
                             EngramMetrics metrics, @Qualifier(AFTER_DEVICE) WorkerPool afterDevice) {
        this.states = states;
        this.mixer = mixer;
        this.scheduler = scheduler;
        this.props = props;
        this.metrics = metrics;
        this.afterDevice = afterDevice.executor();
    }

    /** The pool behind {@link #afterDevice}, a bean so that it is shut down with the application. */
    @Configuration(proxyBeanMethods = false)
    static class Pools {
        @Bean(name = AFTER_DEVICE)
        WorkerPool afterDevice() {
            return new WorkerPool("engram-after-device");
        }
    }

    /**
     * What to generate, for whom. {@code prompt} and {@code promptTokens} are mutually exclusive; both may be null.
     * The tenant's states are the only ones it may start from, and a saved state is the tenant's.
     */
    public record Request(Tenant tenant, String model, List<StateMixer.Ref> states, String prompt, int[] promptTokens,
                          Integer maxTokens, SamplingParams sampling, List<String> stop, boolean wantLogprobs,
                          boolean saveState, String compose) {

        public Request(Tenant tenant, String model, List<StateMixer.Ref> states, String prompt, int[] promptTokens,
                       Integer maxTokens, SamplingParams sampling, List<String> stop, boolean wantLogprobs,
                       boolean saveState) {
            this(tenant, model, states, prompt, promptTokens, maxTokens, sampling, stop, wantLogprobs, saveState, null);
        }
    }

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

    /**
     * @param componentWeights with compose {@code posterior_mean} or {@code mixture}: the normalised posterior
     *                         weights in the order of {@code states} (else null)
     * @param stateComposition with compose {@code mixture} and a saved state: how that state was made
     *                         ({@code "posterior_weighted_mean"}), else null
     */
    public record Result(String model, String text, int[] tokens, String finishReason, List<SampledToken> logprobs,
                         String stateId, Usage usage, Timings timings, double[] componentWeights,
                         String stateComposition) {

        public Result(String model, String text, int[] tokens, String finishReason, List<SampledToken> logprobs,
                      String stateId, Usage usage, Timings timings) {
            this(model, text, tokens, finishReason, logprobs, stateId, usage, timings, null, null);
        }
    }

    /**
     * A validated request, ready for the device.
     *
     * @param compose    how the states are composed
     * @param components with compose {@code posterior_mean} or {@code mixture}: the separate states (else null)
     * @param posterior  with {@code posterior_mean}, once the prompt was scored: the weights of {@code start}
     */
    public record Prepared(Tenant tenant, LoadedModel model, StateMixer.Start start, int[] prompt, int maxTokens,
                           SamplingParams sampling, List<String> stop, boolean wantLogprobs, boolean saveState,
                           long createdNanos, Compose compose, StateMixer.Components components, double[] posterior) {

        public Prepared(Tenant tenant, LoadedModel model, StateMixer.Start start, int[] prompt, int maxTokens,
                        SamplingParams sampling, List<String> stop, boolean wantLogprobs, boolean saveState,
                        long createdNanos) {
            this(tenant, model, start, prompt, maxTokens, sampling, stop, wantLogprobs, saveState, createdNanos,
                    Compose.MEAN, null, null);
        }
    }

    public Prepared prepare(Request r) {
        long t0 = System.nanoTime();
        int limit = props.limits().maxTokens();
        int maxTokens = r.maxTokens() == null ? Math.min(128, limit) : r.maxTokens();
        if (maxTokens < 1 || maxTokens > limit) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, "'max_tokens' is " + maxTokens
                    + "; it must be between 1 and " + limit + " (engram.limits.max-tokens)");
        }
        List<String> stop = r.stop() == null ? List.of() : r.stop();
        int maxStops = props.limits().maxStopStrings(), maxStopLength = props.limits().maxStopLength();
        if (stop.size() > maxStops) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, stop.size() + " stop strings given; at most " + maxStops
                    + " are allowed (engram.limits.max-stop-strings)");
        }
        for (String s : stop) {
            if (s == null || s.isEmpty()) throw new EngramException(ProblemType.INVALID_REQUEST, "stop strings must be non-empty");
            if (s.length() > maxStopLength) {
                throw new EngramException(ProblemType.LIMIT_EXCEEDED, "a stop string has " + s.length()
                        + " characters; at most " + maxStopLength + " are allowed (engram.limits.max-stop-length)");
            }
        }
        Compose compose = Compose.parse(r.compose());
        StateMixer.Components components = null;
        StateMixer.Start start;
        if (compose == Compose.MEAN) {
            start = mixer.start(r.tenant(), r.model(), r.states());
        } else {
            // the first component stands for the rest in the checks below (they share model and logits' presence)
            components = components(r);
            Memory first = components.memories().get(0);
            start = new StateMixer.Start(components.model(),
                    new Memory(first.state(), components.haveLogits() ? first.logits() : null),
                    components.meanId(), components.tokens(), components.loadMs());
        }
        LoadedModel model = start.model();
        int[] prompt = model.tokens(r.prompt(), r.promptTokens(), "prompt", true);
        long total = start.tokens() + prompt.length;
        if (total > props.limits().maxDocumentTokens()) {
            throw new EngramException(ProblemType.DOCUMENT_TOO_LONG, "the states hold " + start.tokens()
                    + " tokens and the prompt adds " + prompt.length + "; the total limit is "
                    + props.limits().maxDocumentTokens() + " (engram.limits.max-document-tokens)");
        }
        if (prompt.length == 0 && start.memory().logits() == null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, start.id() == null
                    ? "nothing to continue from: give a 'prompt' (or 'prompt_tokens') or 'states'"
                    : "these states carry no next-token logits: give a 'prompt' to continue from them");
        }
        SamplingParams sampling = r.sampling() == null ? SamplingParams.greedy() : r.sampling();
        // the tenant key's tokens per minute: the prompt plus max_tokens are reserved now, and what is not generated
        // is given back when the generation ends (see submit)
        r.tenant().tokens().take((long) prompt.length + maxTokens);
        return new Prepared(r.tenant(), model, start, prompt, maxTokens, sampling, stop, r.wantLogprobs(), r.saveState(), t0,
                compose, components, null);
    }

    /** The separate states of a posterior_mean or mixture request, within the batch limits. */
    private StateMixer.Components components(Request r) {
        if (r.states() == null || r.states().isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'compose' \"" + Compose.parse(r.compose()).wire()
                    + "\" needs at least one entry in 'states'");
        }
        int rows = props.scheduler().maxRunning();
        if (r.states().size() > rows) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, "'compose' \"" + r.compose() + "\" reads each of the "
                    + r.states().size() + " states as its own row of a batched step, and a batch holds at most " + rows
                    + " rows (engram.scheduler.max-running): give at most " + rows + " states, combine some of them first"
                    + " (POST /v1/states/combine), or raise engram.scheduler.max-running");
        }
        return mixer.components(r.tenant(), r.model(), r.states());
    }

    /**
     * Queues the generation on the device. Cancelling the returned future, or a sink that reports
     * {@code cancelled()}, takes the sequence out of the batch before its next step.
     */
    public CompletableFuture<Result> submit(Prepared p, Sink sink) {
        if (p.compose() == Compose.POSTERIOR_MEAN && p.posterior() == null) return submitPosteriorMean(p, sink);
        Mixture mixture = p.compose() == Compose.MIXTURE ? mixture(p.components(), false) : null;
        return submit(p, sink, mixture);
    }

    private static Mixture mixture(StateMixer.Components c, boolean copy) {
        float[][] logits = c.haveLogits() ? c.memories().stream().map(Memory::logits).toArray(float[][]::new) : null;
        List<ModelState> states = c.memories().stream().map(m -> copy ? m.state().copy() : m.state()).toList();
        return new Mixture(states, c.prior(), logits);
    }

    /**
     * posterior_mean: score the prompt under every component on the device (rows of one batched step), then
     * generate from the mean of the components under the posterior weights, one row like "mean".
     */
    private CompletableFuture<Result> submitPosteriorMean(Prepared p, Sink sink) {
        StateMixer.Components c = p.components();
        if (p.prompt().length == 0) return submit(posteriorMean(p, c.prior()), sink, null); // no evidence: the prior
        ScoreSequence score = new ScoreSequence(p.model().model(), p.model().id(), mixture(c, true), p.prompt(),
                p.createdNanos(), props.scheduler().requestTimeout().toNanos());
        long reserved = (long) p.prompt().length + p.maxTokens();
        try {
            scheduler.submit(score);
        } catch (RuntimeException e) {
            p.tenant().tokens().giveBack(reserved);
            throw e;
        }
        CompletableFuture<Result> out = new CompletableFuture<>();
        score.future.whenCompleteAsync((w, e) -> {
            if (e != null || out.isDone()) {
                p.tenant().tokens().giveBack(reserved);
                if (e != null) out.completeExceptionally(e);
                return;
            }
            CompletableFuture<Result> inner;
            try {
                inner = submit(posteriorMean(p, w), sink, null);
            } catch (RuntimeException ex) {
                out.completeExceptionally(ex);
                return;
            }
            out.whenComplete((r, x) -> {
                if (out.isCancelled()) inner.cancel(false);
            });
            inner.whenComplete((r, x) -> {
                if (x == null) out.complete(r);
                else out.completeExceptionally(x instanceof java.util.concurrent.CompletionException && x.getCause() != null ? x.getCause() : x);
            });
        }, afterDevice);
        out.whenComplete((r, x) -> {
            if (out.isCancelled()) score.cancel();
        });
        return out;
    }

    /** The request, now starting from the weighted mean of its components under {@code w}. */
    private Prepared posteriorMean(Prepared p, double[] w) {
        StateMixer.Start start = mixer.mean(p.tenant(), p.components(), w);
        return new Prepared(p.tenant(), p.model(), start, p.prompt(), p.maxTokens(), p.sampling(), p.stop(), p.wantLogprobs(),
                p.saveState(), p.createdNanos(), p.compose(), p.components(), w);
    }

    private CompletableFuture<Result> submit(Prepared p, Sink sink, Mixture mixture) {
        EngramMetrics.Request m = metrics.requestQueued(p.model().id(), EngramMetrics.currentEndpoint(), p.createdNanos());
        GenerationSequence seq = new GenerationSequence(p, sink, props.scheduler().requestTimeout().toNanos(), m, mixture);
        try {
            scheduler.submit(seq);
        } catch (RuntimeException e) {
            p.tenant().tokens().giveBack((long) p.prompt().length + p.maxTokens());
            throw e;
        }
        seq.future.whenComplete((o, e) -> m.finished(e == null ? o.finishReason() : EngramMetrics.outcomeOf(e)));
        CompletableFuture<Result> result = seq.future.thenApplyAsync(this::finish, afterDevice);
        result.whenComplete((r, e) -> {
            if (result.isCancelled()) seq.cancel();
            p.tenant().tokens().giveBack(p.maxTokens() - (r == null ? 0 : r.tokens().length));
        });
        return result;
    }

    public Result generate(Request r, Sink sink) {
        return complete(prepare(r));
    }

    /** Runs a prepared generation to its end (no streaming), within the request timeout. */
    public Result complete(Prepared p) {
        return Await.get(submit(p, (text, token) -> {}), props.scheduler().requestTimeout());
    }

    /** Off the device thread: store a saved state, and shape the result. */
    private Result finish(GenerationSequence.Outcome o) {
        Prepared p = o.prepared();
        String stateId = null;
        String composition = null;
        if (p.saveState() && o.lastLogits() != null) {
            if (o.mixture() != null) {
                stateId = saveMixture(p, o.mixture(), o.tokens(), o.lastLogits());
                composition = "posterior_weighted_mean";
            } else {
                stateId = save(p, new Memory(p.start().memory().state(), o.lastLogits()), o.tokens());
            }
        }
        Timings timings = new Timings(round(o.queueMs()), round(p.start().loadMs()), round(o.promptMs()),
                round(o.ttftMs()), round(o.decodeTokensPerS()));
        Usage usage = new Usage(p.start().tokens(), p.prompt().length, o.tokens().length);
        double[] weights = o.mixture() != null ? o.mixture().weights() : p.posterior();
        return new Result(p.model().id(), o.text(), o.tokens(), o.finishReason(), o.logprobs(), stateId, usage, timings,
                weights, composition);
    }

    /**
     * save_state with compose "mixture": the mean of the components' final states (each has read the prompt and
     * the generated tokens) under the final posterior weights, kind {@code mixture}, with the mixture's
     * next-token log-probabilities as its logits. Its id is the priming rule's over the same tokens, in a
     * namespace of its own ({@code "mixture:" + mean id} as parent), so it never poses as a continuation of the mean.
     */
    private String saveMixture(Prepared p, Mixture mixture, int[] generated, float[] lastLogits) {
        return save(p, "mixture", "mixture:" + p.start().id(), new Memory(mixture.mean(p.model().model()), lastLogits),
                generated);
    }

    /** save_state: the state after the prompt and the generated tokens, kind {@code generated}. */
    private String save(Prepared p, Memory memory, int[] generated) {
        return save(p, "generated", p.start().id(), memory, generated);
    }

    private String save(Prepared p, String kind, String idParent, Memory memory, int[] generated) {
        int[] read = Arrays.copyOf(p.prompt(), p.prompt().length + generated.length);
        System.arraycopy(generated, 0, read, p.prompt().length, generated.length);
        String id = StateIds.primed(p.tenant().salt(), p.model().fingerprint(), idParent, read);
        return states.save(p.tenant(), id, p.model(), kind, memory, read.length, p.start().tokens() + read.length,
                p.start().id(), states.ttl(null)).meta().id();
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
