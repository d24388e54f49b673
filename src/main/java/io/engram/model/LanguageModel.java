package io.engram.model;

import java.util.List;

/**
 * A recurrent language model: it reads tokens into a {@link ModelState} and produces next-token logits.
 *
 * <p>Not thread-safe: a model is owned by its device's scheduler, which serialises every call.
 */
public interface LanguageModel extends AutoCloseable {

    /** {@code rwkv7} or {@code retnet}. */
    String architecture();

    int vocabSize();

    int layers();

    /** Number of weights (all tensors of the checkpoint). */
    long parameters();

    /** The state of a model that has read nothing. */
    ModelState zeroState();

    /**
     * Rebuilds a state of this model from named tensors (as listed by {@link ModelState#tensors()}), checking
     * every name and shape; the inverse of {@code tensors()} used by the state codec.
     *
     * @throws IllegalArgumentException naming the first tensor that does not fit
     */
    ModelState stateOf(java.util.List<StateTensor> tensors, long position);

    /** Bytes of one state (the same for every state of this model). */
    default long stateBytes() {
        return zeroState().byteSize();
    }

    /**
     * Reads {@code tokens} into {@code state} (advanced in place). Long inputs are processed in chunks whose
     * token-wise work is batched; the result equals feeding the tokens one by one.
     *
     * @param wantLogits whether to compute the vocabulary head for the last token (priming does not need it)
     * @return the logits after the last token, or {@code null} when {@code wantLogits} is false or tokens is empty
     */
    float[] forward(ModelState state, int[] tokens, boolean wantLogits);

    /**
     * One decode step for several independent sequences: sequence i reads {@code tokens[i]} into
     * {@code states.get(i)}. Returns the logits of each sequence.
     */
    default float[][] step(List<ModelState> states, int[] tokens) {
        float[][] out = new float[tokens.length][];
        for (int i = 0; i < tokens.length; i++) {
            out[i] = forward(states.get(i), new int[] {tokens[i]}, true);
        }
        return out;
    }

    /**
     * One step in which sequence {@code i} reads {@code counts[i]} consecutive tokens of {@code tokens} (in order):
     * a batched decode step (one token each) with, say, a chunk of a long prompt riding along. Returns each
     * sequence's logits after its last token, or null where {@code wantLogits[i]} is false. A model whose decode
     * step is one pass over its weights (RWKV-7 on the CPU) runs it as one pass, so the chunk costs only its
     * compute; this default reads each multi-token sequence first, then takes one step.
     */
    default float[][] stepMixed(List<ModelState> states, int[] tokens, int[] counts, boolean[] wantLogits) {
        int[] last = new int[states.size()];
        for (int i = 0, at = 0; i < states.size(); at += counts[i], i++) {
            if (counts[i] > 1) forward(states.get(i), java.util.Arrays.copyOfRange(tokens, at, at + counts[i] - 1), false);
            last[i] = tokens[at + counts[i] - 1];
        }
        float[][] out = step(states, last);
        for (int i = 0; i < out.length; i++) if (!wantLogits[i]) out[i] = null;
        return out;
    }

    /** Whether {@link #stepMixed} shares one pass over the weights (else a chunk is better read on its own). */
    default boolean mixesSteps() {
        return false;
    }

    /**
     * The weighted mean of states of this model ({@code weights} already normalised to sum 1): the memory that
     * answers from several documents at once. A pure function: the inputs are not modified.
     */
    ModelState combine(List<ModelState> states, double[] weights);

    @Override
    void close();
}
