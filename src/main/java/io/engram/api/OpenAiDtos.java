package io.engram.api;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** OpenAI-compatible request and response bodies ({@code /v1/completions}, {@code /v1/chat/completions}). */
public final class OpenAiDtos {

    private OpenAiDtos() {}

    public record StreamOptions(Boolean includeUsage) {}

    /** Fields shared by both endpoints, plus Engram's extras {@code states}, {@code top_k}, {@code min_p}. */
    public record CompletionRequest(String model, Object prompt, Integer maxTokens, Double temperature, Double topP,
                                    Integer n, Boolean stream, StreamOptions streamOptions,
                                    @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
                                    Long seed, Integer logprobs, Double presencePenalty, Double frequencyPenalty,
                                    Boolean echo, List<Dtos.StateRef> states, Integer topK, Double minP,
                                    String compose) {}

    public record ChatMessage(String role, Object content) {}

    public record ChatRequest(String model, List<ChatMessage> messages, Integer maxTokens, Integer maxCompletionTokens,
                              Double temperature, Double topP, Integer n, Boolean stream, StreamOptions streamOptions,
                              @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
                              Long seed, Boolean logprobs, Integer topLogprobs, Double presencePenalty,
                              Double frequencyPenalty, List<Dtos.StateRef> states, Integer topK, Double minP,
                              String compose) {}

    public record Usage(int promptTokens, int completionTokens, int totalTokens) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record CompletionChoice(int index, String text, Object logprobs, String finishReason) {}

    public record Completion(String id, String object, long created, String model, List<CompletionChoice> choices,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {}

    public record Message(String role, String content) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ChatChoice(int index, Message message, Object logprobs, String finishReason) {}

    public record ChatCompletion(String id, String object, long created, String model, List<ChatChoice> choices,
                                 Usage usage) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Delta(String role, String content) {}

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record ChunkChoice(int index, Delta delta, Object logprobs, String finishReason) {}

    public record ChatChunk(String id, String object, long created, String model, List<ChunkChoice> choices,
                            @JsonInclude(JsonInclude.Include.NON_NULL) Usage usage) {}

    /**
     * {@code choices[].logprobs} of {@code /v1/completions} (legacy OpenAI shape): per generated token its text,
     * its log-probability, the {@code logprobs} most likely alternatives (text to log-probability), and the
     * character offset of the token in the completion text.
     */
    public record CompletionLogprobs(List<String> tokens, List<Double> tokenLogprobs,
                                     List<java.util.Map<String, Double>> topLogprobs, List<Integer> textOffset) {}

    /** {@code choices[].logprobs} of {@code /v1/chat/completions}: one entry per generated token. */
    public record ChatLogprobs(List<ChatTokenLogprob> content) {}

    /** A generated token: text, log-probability, its UTF-8 bytes, and the {@code top_logprobs} alternatives. */
    public record ChatTokenLogprob(String token, double logprob, List<Integer> bytes, List<TopLogprob> topLogprobs) {}

    public record TopLogprob(String token, double logprob, List<Integer> bytes) {}
}
