package io.engram.api;

import static io.engram.api.RequestValidation.invalid;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.engram.inference.GenerationService;
import io.engram.model.ChatTemplate;
import io.engram.tenant.Tenant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

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
                                    String compose) {

        /** The request as a generation (16 tokens unless {@code max_tokens} says otherwise, as OpenAI's default). */
        public GenerationService.Request toDomain(Tenant tenant) {
            if (n != null && n != 1) throw invalid("only n = 1 is supported");
            if (Boolean.TRUE.equals(echo)) throw invalid("echo is not supported");
            String text = null;
            int[] tokens = null;
            if (prompt instanceof String s) {
                text = s;
            } else if (prompt instanceof List<?> l && l.size() == 1 && l.get(0) instanceof String s) {
                text = s;
            } else if (prompt instanceof List<?> l && l.stream().allMatch(x -> x instanceof Integer)) {
                tokens = l.stream().mapToInt(x -> (Integer) x).toArray();
            } else if (prompt != null) {
                throw invalid("'prompt' must be a string, a list with one string, or a list of token ids");
            }
            return new GenerationService.Request(tenant, model, Dtos.StateRef.toDomain(states), text, tokens,
                    maxTokens == null ? 16 : maxTokens,
                    RequestValidation.sampling(temperature, topP, topK, minP, presencePenalty, frequencyPenalty, seed, logprobs),
                    stop, logprobs != null, false, compose);
        }
    }

    public record ChatMessage(String role, Object content) {}

    public record ChatRequest(String model, List<ChatMessage> messages, Integer maxTokens, Integer maxCompletionTokens,
                              Double temperature, Double topP, Integer n, Boolean stream, StreamOptions streamOptions,
                              @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<String> stop,
                              Long seed, Boolean logprobs, Integer topLogprobs, Double presencePenalty,
                              Double frequencyPenalty, List<Dtos.StateRef> states, Integer topK, Double minP,
                              String compose) {

        /**
         * The request as a generation: the messages rendered by the model's chat template, whose stop strings
         * come before the request's own.
         *
         * @param modelOf    the model id to use (the request's, or the model of its first state)
         * @param templateOf the chat template of a model id
         */
        public GenerationService.Request toDomain(Tenant tenant, Supplier<String> modelOf,
                                                  Function<String, ChatTemplate> templateOf) {
            if (n != null && n != 1) throw invalid("only n = 1 is supported");
            if (messages == null || messages.isEmpty()) throw invalid("'messages' must hold at least one message");
            String modelId = modelOf.get();
            ChatTemplate template = templateOf.apply(modelId);
            List<ChatTemplate.Message> rendered = new ArrayList<>();
            for (ChatMessage m : messages) {
                if (m == null || m.role() == null) throw invalid("every message needs a 'role' and 'content'");
                rendered.add(new ChatTemplate.Message(m.role(), content(m.content())));
            }
            List<String> allStops = new ArrayList<>(template.stop());
            if (stop != null) allStops.addAll(stop);
            Integer max = maxCompletionTokens != null ? maxCompletionTokens : maxTokens;
            Integer lp = Boolean.TRUE.equals(logprobs) ? (topLogprobs == null ? 0 : topLogprobs) : null;
            return new GenerationService.Request(tenant, modelId, Dtos.StateRef.toDomain(states),
                    RequestValidation.validated(() -> template.render(rendered)), null, max,
                    RequestValidation.sampling(temperature, topP, topK, minP, presencePenalty, frequencyPenalty, seed, lp),
                    allStops, lp != null, false, compose);
        }

        /** Message content: a string, or a list of parts of which the {@code text} parts are joined. */
        private static String content(Object c) {
            if (c == null) return "";
            if (c instanceof String s) return s;
            if (c instanceof List<?> parts) {
                StringBuilder b = new StringBuilder();
                for (Object p : parts) {
                    if (p instanceof Map<?, ?> m && "text".equals(m.get("type")) && m.get("text") instanceof String t) b.append(t);
                    else throw invalid("only text content parts are supported");
                }
                return b.toString();
            }
            throw invalid("message 'content' must be a string or a list of text parts");
        }
    }

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
