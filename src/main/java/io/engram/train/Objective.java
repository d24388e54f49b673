package io.engram.train;

/** What a training step minimises. */
public enum Objective {
    /** The loss on question + answer after reading the documents concatenated, as any language model is trained. */
    PLAIN,
    /**
     * {@link #PLAIN}, plus the loss of the answer when the question is read from the weighted mean of the documents'
     * states, each document read separately from the zero state. Gradients flow through the mean and every read.
     */
    COMPOSABLE
}
