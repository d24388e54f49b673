package io.engram.api;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.inference.GenerationService;
import io.engram.inference.SamplingParams;
import io.engram.inference.TokenLogprob;
import io.engram.state.StateMeta;
import io.engram.state.StateMixer;
import io.engram.tenant.Tenant;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Request and response bodies of the HTTP API (snake_case on the wire, see shared/spec/api.md). */
public final class Dtos {

    private Dtos() {}

    public record ModelList(List<ModelView> data) {}

    public record ModelView(String id, String architecture, long parameters, int layers, int vocabSize,
                            long stateBytes, String dtype, String weightsDtype, String serveDtype, String device, String fingerprint,
                            String tokenizer, @JsonProperty("default") boolean isDefault, String description) {}

    public record TokenizeRequest(String model, String text) {}

    public record TokenizeResponse(int[] tokens, int count) {}

    public record DetokenizeRequest(String model, int[] tokens) {}

    public record DetokenizeResponse(String text) {}

    public record PrimeRequest(String model, String text, int[] tokens, String parent, Long ttlSeconds) {}

    public record BatchPrimeRequest(String model, List<PrimeRequest> documents, Long ttlSeconds) {}

    public record BatchPrimeResponse(List<Object> results) {}

    /** {@code {"id", "weight"}}; the weight defaults to 1. */
    public record StateRef(String id, Double weight) {

        public StateMixer.Ref toDomain() {
            return new StateMixer.Ref(id, weight == null ? 1.0 : weight);
        }

        /** A request's {@code states} (absent: none). */
        public static List<StateMixer.Ref> toDomain(List<StateRef> in) {
            if (in == null) return List.of();
            List<StateMixer.Ref> out = new ArrayList<>();
            for (StateRef s : in) {
                if (s == null) throw new EngramException(ProblemType.INVALID_REQUEST, "'states' entries must be {\"id\", \"weight\"}");
                out.add(s.toDomain());
            }
            return out;
        }
    }

    public record CombineRequest(List<StateRef> states, Long ttlSeconds) {}

    public record StateView(String id, String model, String kind, long tokens, long totalTokens, String parent,
                            long bytes, Instant createdAt, Instant expiresAt, boolean cached, Double primeMs) {
        static StateView of(StateMeta m, boolean cached, Double primeMs) {
            return new StateView(m.id(), m.model(), m.kind(), m.tokens(), m.totalTokens(), m.parent(), m.bytes(),
                    m.createdAt(), m.expiresAt(), cached, primeMs);
        }
    }

    public record GenerateRequest(String model, List<StateRef> states, String prompt, int[] promptTokens,
                                  Integer maxTokens, Double temperature, Double topP, Integer topK, Double minP,
                                  Double presencePenalty, Double frequencyPenalty,
                                  @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
                                  Long seed, Integer logprobs, Boolean stream, Boolean saveState, String compose) {

        public GenerationService.Request toDomain(Tenant tenant) {
            SamplingParams sampling = RequestValidation.sampling(temperature, topP, topK, minP, presencePenalty,
                    frequencyPenalty, seed, logprobs);
            return new GenerationService.Request(tenant, model, StateRef.toDomain(states), prompt, promptTokens,
                    maxTokens, sampling, stop, logprobs != null, Boolean.TRUE.equals(saveState), compose);
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LogprobView(int token, double logprob, List<TokenLogprob> top) {}

    /** {@code component_weights} and {@code state_composition} appear only with compose posterior_mean / mixture. */
    public record GenerateResponse(String model, String text, int[] tokens, String finishReason,
                                   List<LogprobView> logprobs, String stateId, GenerationService.Usage usage,
                                   GenerationService.Timings timings,
                                   @JsonInclude(JsonInclude.Include.NON_NULL) double[] componentWeights,
                                   @JsonInclude(JsonInclude.Include.NON_NULL) String stateComposition) {}

    /** {@code event: token}. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TokenEvent(String text, Integer token, Double logprob, List<TokenLogprob> top) {}

    /** {@code event: done}. */
    public record DoneEvent(String finishReason, String stateId, GenerationService.Usage usage,
                            GenerationService.Timings timings,
                            @JsonInclude(JsonInclude.Include.NON_NULL) double[] componentWeights,
                            @JsonInclude(JsonInclude.Include.NON_NULL) String stateComposition) {}
}
