package io.engram.inference;

/**
 * Sampling settings of one generation request, as given by the HTTP contract of
 * {@code POST /v1/generate}.
 *
 * <p>The compact constructor validates every range and throws {@link IllegalArgumentException}
 * whose message names the field (by its HTTP name, e.g. {@code top_p}) and the allowed range, so
 * the API layer can turn it into a 400 as is.
 *
 * @param temperature      softmax temperature, {@code >= 0} and finite; {@code 0} means greedy (argmax)
 * @param topP             nucleus sampling threshold, in {@code (0, 1]}; {@code 1} disables it
 * @param topK             keep only the {@code topK} most likely tokens, {@code >= 0}; {@code 0} disables it,
 *                         {@code 1} is greedy
 * @param minP             drop tokens whose probability is below {@code minP * p_max}, in {@code [0, 1]};
 *                         {@code 0} disables it
 * @param presencePenalty  subtracted once from the logit of every token already generated, in {@code [-2, 2]}
 * @param frequencyPenalty subtracted from a token's logit once per previous occurrence, in {@code [-2, 2]}
 * @param seed             RNG seed for reproducible sampling, or {@code null} for a random one
 * @param logprobs         number of top alternatives (by raw log-probability) to return per token, in {@code [0, 20]}
 */
public record SamplingParams(double temperature, double topP, int topK, double minP,
                             double presencePenalty, double frequencyPenalty, Long seed, int logprobs) {

    /** Largest {@code logprobs} value a request may ask for. */
    public static final int MAX_LOGPROBS = 20;

    /** Validates the ranges; see the class documentation. */
    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException(
                    "temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
            throw new IllegalArgumentException("presence_penalty must be in [-2, 2], got " + presencePenalty);
        }
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
            throw new IllegalArgumentException("frequency_penalty must be in [-2, 2], got " + frequencyPenalty);
        }
        if (logprobs < 0 || logprobs > MAX_LOGPROBS) {
            throw new IllegalArgumentException("logprobs must be in [0, " + MAX_LOGPROBS + "], got " + logprobs);
        }
    }

    /**
     * Greedy decoding: temperature 0, no truncation, no penalties, no seed, no logprobs.
     *
     * @return the greedy settings
     */
    public static SamplingParams greedy() {
        return new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, null, 0);
    }

    /** @return true when sampling reduces to argmax (temperature 0 or top_k 1) */
    boolean isGreedy() {
        return temperature == 0.0 || topK == 1;
    }
}
