package io.engram.model.retnet;

/**
 * RetNet's three ways of computing the same retention (paper section 2.1, torchscale {@code MultiScaleRetention}).
 * All three read the same tokens into the same state; their outputs differ only by a positive per-(head, token)
 * factor, which the per-head RMSNorm cancels up to its epsilon.
 */
public enum Paradigm {
    /** The whole input at once, with a T×T decay mask: O(T²) work, as in training. */
    PARALLEL,
    /** One token at a time through the state: O(1) per token; what generation uses. */
    RECURRENT,
    /** Chunks of {@code recurrent_chunk_size} tokens: parallel inside a chunk, recurrent across chunks; what priming uses. */
    CHUNKWISE
}
