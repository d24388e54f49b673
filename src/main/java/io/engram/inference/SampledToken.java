package io.engram.inference;

import java.util.List;
import java.util.Objects;

/**
 * The result of one {@link Sampler#sample(float[])} call.
 *
 * @param token   the chosen token id
 * @param logprob raw log-softmax of the chosen token (before temperature, penalties and truncation)
 * @param top     the {@code logprobs} best tokens by raw log-probability, sorted descending (ties: lower id
 *                first); empty when {@code logprobs == 0}. Tokens with a non-finite raw logit (NaN, -inf)
 *                are never listed, so the list is shorter than {@code logprobs} only when fewer tokens
 *                have a finite logit. Unmodifiable.
 */
public record SampledToken(int token, double logprob, List<TokenLogprob> top) {

    /** Copies {@code top} into an unmodifiable list. */
    public SampledToken {
        top = List.copyOf(Objects.requireNonNull(top, "top"));
    }
}
