package io.engram.inference;

/**
 * A token id with its log-probability under the model's raw logits (log-softmax before
 * temperature, penalties and truncation).
 *
 * @param token   token id
 * @param logprob natural-log probability, {@code <= 0}
 */
public record TokenLogprob(int token, double logprob) {
}
