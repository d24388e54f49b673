package io.engram.scheduler;

import io.engram.model.LanguageModel;
import io.engram.model.ModelState;

/**
 * One request's work on the device: read its input tokens (a document or a prompt), then, for a generation,
 * decode. After submission only the device thread touches a sequence, except {@link #cancel()}.
 */
public abstract class Sequence {

    protected final LanguageModel model;
    protected final String modelId;
    protected final ModelState state;
    protected final int[] input;
    protected final long createdNanos;
    protected final long deadlineNanos;
    /** Next-token logits: after the input is read, or given at the start (continuing from a stored state). */
    protected float[] logits;
    protected int read;
    /** The token chosen by {@link #next()} and read by the next batched step. */
    protected int pendingToken;
    protected long admittedNanos;
    private volatile boolean cancelled;

    protected Sequence(LanguageModel model, String modelId, ModelState state, int[] input, float[] logits,
             long createdNanos, long timeoutNanos) {
        this.model = model;
        this.modelId = modelId;
        this.state = state;
        this.input = input;
        this.logits = logits;
        this.createdNanos = createdNanos;
        this.deadlineNanos = createdNanos + timeoutNanos;
    }

    public boolean prefilled() {
        return read >= input.length;
    }

    public int remaining() {
        return input.length - read;
    }

    /** Marks the sequence for removal: it leaves the batch before its next step. */
    public void cancel() {
        cancelled = true;
    }

    public boolean cancelled() {
        return cancelled;
    }

    /**
     * The components of a mixture (compose {@code "mixture"} / {@code "posterior_mean"} scoring), read as rows of
     * the batched step instead of {@link #state}, one input token per step; null for one-state sequences.
     */
    protected Mixture mixture() {
        return null;
    }

    /** Rows this sequence takes in a batched step (what counts against {@code max-running}). */
    public final int rows() {
        Mixture m = mixture();
        return m == null ? 1 : m.size();
    }

    /** Called on the device thread when the sequence leaves the queue and joins the batch. */
    protected void admitted() {}

    /** Whether the last prefill chunk must compute the vocabulary head. */
    protected abstract boolean needsLogits();

    /** Called once the input is read. Returns true when the sequence goes on to decode, false when it is done. */
    protected abstract boolean prefillDone();

    /**
     * The compute-only part of choosing the next token (sampling over the vocabulary), done before {@link #next()}:
     * the scheduler runs it for every decoding sequence of a step at once, in parallel on the CPU team. It may read
     * {@link #logits} and write this sequence's own fields only: nothing is emitted, no shared state is touched,
     * nothing is thrown (a failure is kept for {@code next()} to throw). The default does nothing, and
     * {@code next()} does all the work.
     */
    protected void prepareNext() {}

    /**
     * Samples the next token from {@link #logits} (or takes what {@link #prepareNext()} chose) and emits it.
     * Returns the token to read next, or -1 when the sequence is finished and must leave the batch.
     */
    protected abstract int next();

    /** Called after the batched step read the token returned by {@link #next()}; returns false when done. */
    protected abstract boolean fed();

    /** Ends the sequence: cancelled (client gone) or removed. */
    protected abstract void abort(String reason);

    /** Ends the sequence with an error. */
    protected abstract void fail(Throwable error);
}
