package io.engram.inference;

import io.engram.model.LanguageModel;
import io.engram.model.ModelState;

/**
 * One request's work on the device: read its input tokens (a document or a prompt), then, for a generation,
 * decode. After submission only the device thread touches a sequence, except {@link #cancel()}.
 */
abstract class Sequence {

    final LanguageModel model;
    final String modelId;
    final ModelState state;
    final int[] input;
    final long createdNanos;
    final long deadlineNanos;
    /** Next-token logits: after the input is read, or given at the start (continuing from a stored state). */
    float[] logits;
    int read;
    /** The token chosen by {@link #next()} and read by the next batched step. */
    int pendingToken;
    long admittedNanos;
    private volatile boolean cancelled;

    Sequence(LanguageModel model, String modelId, ModelState state, int[] input, float[] logits,
             long createdNanos, long timeoutNanos) {
        this.model = model;
        this.modelId = modelId;
        this.state = state;
        this.input = input;
        this.logits = logits;
        this.createdNanos = createdNanos;
        this.deadlineNanos = createdNanos + timeoutNanos;
    }

    boolean prefilled() {
        return read >= input.length;
    }

    int remaining() {
        return input.length - read;
    }

    /** Marks the sequence for removal: it leaves the batch before its next step. */
    void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }

    /**
     * The components of a mixture (compose {@code "mixture"} / {@code "posterior_mean"} scoring), read as rows of
     * the batched step instead of {@link #state}, one input token per step; null for one-state sequences.
     */
    Mixture mixture() {
        return null;
    }

    /** Rows this sequence takes in a batched step (what counts against {@code max-running}). */
    final int rows() {
        Mixture m = mixture();
        return m == null ? 1 : m.size();
    }

    /** Called on the device thread when the sequence leaves the queue and joins the batch. */
    void admitted() {}

    /** Whether the last prefill chunk must compute the vocabulary head. */
    abstract boolean needsLogits();

    /** Called once the input is read. Returns true when the sequence goes on to decode, false when it is done. */
    abstract boolean prefillDone();

    /**
     * Samples the next token from {@link #logits} and emits it. Returns the token to read next, or -1 when the
     * sequence is finished and must leave the batch.
     */
    abstract int next();

    /** Called after the batched step read the token returned by {@link #next()}; returns false when done. */
    abstract boolean fed();

    /** Ends the sequence: cancelled (client gone) or removed. */
    abstract void abort(String reason);

    /** Ends the sequence with an error. */
    abstract void fail(Throwable error);
}
