package io.engram.scheduler;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import java.util.concurrent.CompletableFuture;

/** Reading a document into a state (priming): prefill only, then the state and its next-token logits. */
public final class PrimeSequence extends Sequence {

    /** The primed state, the logits after its last token, and the time spent on the device. */
    public record Primed(ModelState state, float[] logits, double deviceMs) {}

    final CompletableFuture<Primed> future = new CompletableFuture<>();

    PrimeSequence(LanguageModel model, String modelId, ModelState state, int[] tokens, long timeoutNanos) {
        super(model, modelId, state, tokens, null, System.nanoTime(), timeoutNanos);
    }

    @Override
    protected boolean needsLogits() {
        return true;
    }

    @Override
    protected boolean prefillDone() {
        future.complete(new Primed(state, logits, (System.nanoTime() - admittedNanos) / 1e6));
        return false;
    }

    @Override
    protected int next() {
        throw new IllegalStateException("a prime does not decode");
    }

    @Override
    protected boolean fed() {
        return false;
    }

    @Override
    protected void abort(String reason) {
        future.completeExceptionally(new EngramException(ProblemType.UNAVAILABLE, "priming was stopped (" + reason + ")", 1L));
    }

    @Override
    protected void fail(Throwable error) {
        future.completeExceptionally(error);
    }
}
