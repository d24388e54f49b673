package io.engram.scheduler;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LanguageModel;
import java.util.concurrent.CompletableFuture;

/**
 * Scoring a prompt under each component of a mixture (compose {@code "posterior_mean"}): the components read the
 * prompt as rows of the batched step, and the result is the posterior weights, prior x p(prompt | state_i),
 * normalised. Prefill only; the components' states are discarded.
 */
public final class ScoreSequence extends Sequence {

    public final CompletableFuture<double[]> future = new CompletableFuture<>();
    private final Mixture mixture;

    public ScoreSequence(LanguageModel model, String modelId, Mixture mixture, int[] prompt, long createdNanos, long timeoutNanos) {
        super(model, modelId, mixture.states()[0], prompt, null, createdNanos, timeoutNanos);
        this.mixture = mixture;
    }

    @Override
    protected Mixture mixture() {
        return mixture;
    }

    @Override
    protected boolean needsLogits() {
        return true;
    }

    @Override
    protected boolean prefillDone() {
        future.complete(mixture.weights());
        return false;
    }

    @Override
    protected int next() {
        throw new IllegalStateException("scoring does not decode");
    }

    @Override
    protected boolean fed() {
        return false;
    }

    @Override
    protected void abort(String reason) {
        future.completeExceptionally(new EngramException(ProblemType.UNAVAILABLE, "generation was stopped (" + reason + "); retry", 1L));
    }

    @Override
    protected void fail(Throwable error) {
        future.completeExceptionally(error);
    }
}
