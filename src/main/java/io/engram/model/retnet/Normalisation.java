package io.engram.model.retnet;

/**
 * How the parallel and chunkwise paradigms scale each (head, token) retention output before the per-head RMSNorm.
 * The scale is a positive factor per row, which that RMSNorm cancels up to its epsilon: the two choices differ only
 * through {@code layernorm_eps} (by about 1e-6 on the oracle; by up to 1e-2 for chunk size 1 on random weights,
 * where torchscale's chunkwise factor makes the outputs small enough for eps to matter).
 */
public enum Normalisation {
    /**
     * The recurrent form's {@code 1/sqrt(scale_i)} for every token, whatever the paradigm: parallel, chunkwise and
     * recurrent then agree to float rounding, and a document's state does not depend on where chunks or
     * {@code parent} calls split it. What the server uses.
     */
    EXACT,
    /**
     * Each paradigm's own torchscale normaliser: {@code parallel_forward}'s decay-mask rows over
     * {@code sqrt(Σ_j γ^(i-j))} and then over {@code clamp(Σ_j |qk⊙mask|, 1, 5e4)}; {@code chunk_recurrent_forward}'s
     * in-chunk mask rows and {@code max(inner_scale, kv_scale)}. For comparing with torchscale's outputs.
     */
    TORCHSCALE
}
