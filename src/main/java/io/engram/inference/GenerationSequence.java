package io.engram.inference;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import io.engram.scheduler.Mixture;
import io.engram.scheduler.Sequence;
import io.engram.tokenizer.StreamingDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A generation on the device: read the prompt, then sample a token per step, decoding text without splitting
 * UTF-8 characters and holding back text that may start a stop string. Tokens go to the {@link
 * GenerationService.Sink} as they are made; the sink must not block.
 */
final class GenerationSequence extends Sequence {

    /** What the device produced; persisting a saved state happens off the device thread. */
    record Outcome(GenerationService.Prepared prepared, String text, int[] tokens, String finishReason,
                   List<SampledToken> logprobs, float[] lastLogits, double queueMs, double promptMs,
                   double ttftMs, double decodeTokensPerS, Mixture mixture) {}

    final CompletableFuture<Outcome> future = new CompletableFuture<>();
    private final GenerationService.Prepared p;
    private final GenerationService.Sink sink;
    private final Sampler sampler;
    private final StreamingDecoder decoder;
    private final StopMatcher stop;
    private final List<Integer> tokens = new ArrayList<>();
    private final List<SampledToken> logprobs;
    private final StringBuilder text = new StringBuilder();
    private final EngramMetrics.Request metrics;
    private String finish;
    private long prefilledNanos, firstTokenNanos, lastTokenNanos;
    /** Compose "mixture": the components decoded as rows; null for one state (the weighted mean, or a single state). */
    private final Mixture mixture;

    GenerationSequence(GenerationService.Prepared p, GenerationService.Sink sink, long timeoutNanos, EngramMetrics.Request metrics) {
        this(p, sink, timeoutNanos, metrics, null);
    }

    GenerationSequence(GenerationService.Prepared p, GenerationService.Sink sink, long timeoutNanos, EngramMetrics.Request metrics,
                       Mixture mixture) {
        super(p.model().model(), p.model().id(), p.start().memory().state(), p.prompt(),
                p.prompt().length == 0 ? (mixture != null ? mixture.mixtureLogits() : p.start().memory().logits().clone()) : null,
                p.createdNanos(), timeoutNanos);
        this.mixture = mixture;
        this.p = p;
        this.sink = sink;
        this.sampler = new Sampler(p.sampling());
        this.decoder = p.model().tokenizer().newStreamingDecoder();
        this.stop = new StopMatcher(p.stop());
        this.logprobs = p.wantLogprobs() ? new ArrayList<>() : null;
        this.metrics = metrics;
    }

    @Override
    protected Mixture mixture() {
        return mixture;
    }

    @Override
    protected void admitted() {
        metrics.started(input.length);
    }

    @Override
    protected boolean needsLogits() {
        return true;
    }

    @Override
    protected boolean prefillDone() {
        prefilledNanos = System.nanoTime();
        return true;
    }

    /** The token {@link #prepareNext()} chose for the current logits, or the failure it met; consumed by next(). */
    private SampledToken prepared;
    private RuntimeException prepareFailure;

    @Override
    protected void prepareNext() {
        if (sink.cancelled()) return;
        try {
            prepared = sampler.sample(logits);
        } catch (RuntimeException e) {
            prepareFailure = e;
        }
    }

    @Override
    protected int next() {
        SampledToken t = prepared;
        RuntimeException failure = prepareFailure;
        prepared = null;
        prepareFailure = null;
        if (sink.cancelled()) {
            abort("cancelled");
            return -1;
        }
        if (failure != null) throw failure;
        if (prefilledNanos == 0) prefilledNanos = System.nanoTime();
        if (t == null) t = sampler.sample(logits);
        sampler.accept(t.token());
        if (mixture != null) mixture.observe(t.token());   // the posterior after this token
        tokens.add(t.token());
        if (logprobs != null) logprobs.add(t);
        String piece = stop.push(decoder.push(t.token()));
        text.append(piece);
        lastTokenNanos = System.nanoTime();
        if (firstTokenNanos == 0) firstTokenNanos = lastTokenNanos;
        sink.token(piece, t);
        metrics.token();
        if (stop.stopped()) {
            finish = "stop";
        } else if (tokens.size() >= p.maxTokens()) {
            finish = "length";
            String tail = stop.push(decoder.flush()) + stop.flush();
            if (!tail.isEmpty()) {
                text.append(tail);
                sink.tail(tail);
            }
        } else {
            return t.token();
        }
        if (p.saveState()) return t.token(); // read the last token too, so the saved state holds it
        complete(null);
        return -1;
    }

    @Override
    protected boolean fed() {
        if (finish == null) return true;
        complete(logits);
        return false;
    }

    private void complete(float[] lastLogits) {
        int[] out = tokens.stream().mapToInt(Integer::intValue).toArray();
        double decodeS = (lastTokenNanos - firstTokenNanos) / 1e9;
        double tps = out.length > 1 && decodeS > 0 ? (out.length - 1) / decodeS : 0;
        future.complete(new Outcome(p, text.toString(), out, finish, logprobs, lastLogits,
                ms(admittedNanos - createdNanos), ms(prefilledNanos - admittedNanos),
                firstTokenNanos == 0 ? 0 : ms(firstTokenNanos - createdNanos), tps, mixture));
    }

    @Override
    protected void abort(String reason) {
        if (reason.equals("cancelled")) {
            finish = "cancelled";
            complete(null);
        } else {
            future.completeExceptionally(new EngramException(ProblemType.UNAVAILABLE,
                    "generation was stopped (" + reason + "); retry", 1L));
        }
    }

    @Override
    protected void fail(Throwable error) {
        future.completeExceptionally(error);
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
