package io.engram.api;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.inference.SamplingParams;
import java.util.Set;
import java.util.function.Supplier;

/** Checks of request bodies shared by the endpoints, as they are mapped to domain values. */
final class RequestValidation {

    private RequestValidation() {}

    /** The sampling fields whose range errors name the field in the problem's {@code errors}. */
    private static final Set<String> SAMPLING_FIELDS = Set.of("temperature", "top_p", "top_k", "min_p",
            "presence_penalty", "frequency_penalty", "logprobs");

    /** The sampling parameters of a request (absent fields take the defaults: plain sampling at temperature 1). */
    static SamplingParams sampling(Double temperature, Double topP, Integer topK, Double minP, Double presence,
                                   Double frequency, Long seed, Integer logprobs) {
        return validated(() -> new SamplingParams(temperature == null ? 1.0 : temperature,
                topP == null ? 1.0 : topP, topK == null ? 0 : topK, minP == null ? 0.0 : minP,
                presence == null ? 0.0 : presence, frequency == null ? 0.0 : frequency, seed,
                logprobs == null ? 0 : logprobs));
    }

    /**
     * Runs a constructor whose range checks throw {@code IllegalArgumentException} ("top_p must be in (0, 1], …"):
     * that is the client's input, so it becomes a 400, naming the field in {@code errors} when it is a sampling
     * parameter.
     */
    static <T> T validated(Supplier<T> make) {
        try {
            return make.get();
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? "the request is invalid" : e.getMessage();
            String field = m.split(" ", 2)[0];
            if (!SAMPLING_FIELDS.contains(field)) throw new EngramException(ProblemType.INVALID_REQUEST, m);
            throw EngramException.field(ProblemType.INVALID_REQUEST, field, m);
        }
    }

    static EngramException invalid(String detail) {
        return new EngramException(ProblemType.INVALID_REQUEST, detail);
    }
}
