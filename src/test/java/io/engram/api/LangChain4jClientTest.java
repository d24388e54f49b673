package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiChatRequestParameters;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * LangChain4j ({@code dev.langchain4j:langchain4j-open-ai} 1.19.0), the client Java RAG applications use against an
 * OpenAI-compatible server, pointed at a running Engram. Engram's own request fields ({@code states}) travel as
 * LangChain4j's {@code customParameters} (merged into the request body by {@code ChatCompletionRequest}'s
 * {@code @JsonAnyGetter}), either per request ({@link OpenAiChatRequestParameters}) or on the model's builder.
 * What LangChain4j sees must equal {@code /v1/generate} on the chat-template-rendered prompt, greedy.
 */
class LangChain4jClientTest {

    static final String KEY = "lc4j-key-0123456789abcdef";
    static final String BURST = "lc4j-burst-0123456789abcdef";
    /** The tiny model's chat template: {@code User: ...\n\nAssistant:}, stopping at the next {@code \n\nUser:}. */
    static final String RENDERED = "User: What is the code?\n\nAssistant:";

    static TestApp app;
    static Http http;
    static String state;
    /** The same document primed by the rate-limited tenant (tenants do not see each other's states). */
    static String burstState;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-lc4j-test");
        OracleModelDir.create(models, "tiny");
        app = TestApp.start(models, "engram.security.api-keys=lc4j:" + KEY + ",burst:" + BURST,
                "engram.security.rate-limit.tenants.burst.tokens-per-minute=60");
        http = app.http().withKey(KEY);
        state = http.post("/v1/states", Map.of("text", "The code of Zorbia is 4417.")).json().get("id").asText();
        burstState = app.http().withKey(BURST).post("/v1/states", Map.of("text", "The code of Zorbia is 4417."))
                .json().get("id").asText();
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    static String baseUrl() {
        return app.http().uri("/v1").toString();
    }

    /** {@code /v1/generate}, greedy, on what the chat endpoint renders: the reference both clients must match. */
    static JsonNode direct(int maxTokens) {
        Http.Response r = http.post("/v1/generate", Map.of("states", List.of(Map.of("id", state)), "prompt", RENDERED,
                "max_tokens", maxTokens, "temperature", 0, "stop", List.of("\n\nUser:")));
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    static ChatRequest question(Map<String, Object> custom, int maxTokens) {
        return ChatRequest.builder()
                .messages(UserMessage.from("What is the code?"))
                .parameters(OpenAiChatRequestParameters.builder().modelName("tiny").temperature(0.0)
                        .maxOutputTokens(maxTokens).customParameters(custom).build())
                .build();
    }

    static Map<String, Object> states(String id) {
        return Map.of("states", List.of(Map.of("id", id, "weight", 1.0)));
    }

    static OpenAiStreamingChatModel streaming(String key) {
        return OpenAiStreamingChatModel.builder().baseUrl(baseUrl()).apiKey(key).modelName("tiny")
                .timeout(Duration.ofSeconds(60)).build();
    }

    static OpenAiChatModel blocking(String key) {
        return OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey(key).modelName("tiny").maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
    }

    /** What a streaming handler saw: the partial texts in order, then the response or the error. */
    record Streamed(List<String> partials, ChatResponse response, Throwable error) {
        String text() {
            return String.join("", partials);
        }
    }

    static Streamed stream(OpenAiStreamingChatModel model, ChatRequest request) throws Exception {
        List<String> partials = new ArrayList<>();
        CompletableFuture<Streamed> done = new CompletableFuture<>();
        model.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                partials.add(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(new Streamed(List.copyOf(partials), response, null));
            }

            @Override
            public void onError(Throwable error) {
                done.complete(new Streamed(List.copyOf(partials), null, error));
            }
        });
        return done.get(90, TimeUnit.SECONDS);
    }

    @Test
    void streamingChatModelStreamsTheGreedyAnswerFromAPrimedState() throws Exception {
        JsonNode direct = direct(12);
        Streamed s = stream(streaming(KEY), question(states(state), 12));
        assertEquals(null, s.error(), () -> String.valueOf(s.error()));
        assertFalse(direct.get("text").asText().isEmpty(), "the reference answer is not empty: " + direct);
        assertEquals(direct.get("text").asText(), s.text(), "streamed text");
        assertTrue(s.partials().size() >= 2, "streamed in pieces, not at once: " + s.partials());
        ChatResponse r = s.response();
        assertEquals(direct.get("text").asText(), r.aiMessage().text(), "the aggregated message");
        assertEquals(finish(direct), r.finishReason());
        assertEquals(direct.get("usage").get("prompt_tokens").asInt(), r.tokenUsage().inputTokenCount());
        assertEquals(direct.get("usage").get("completion_tokens").asInt(), r.tokenUsage().outputTokenCount());
        assertEquals(r.tokenUsage().inputTokenCount() + r.tokenUsage().outputTokenCount(), r.tokenUsage().totalTokenCount());
        assertEquals("tiny", r.modelName());
        assertNotNull(r.id());
    }

    @Test
    void chatModelCompletesFromStatesSetOnTheBuilder() {
        JsonNode direct = direct(12);
        // states on the builder: every request of this model answers from them
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey(KEY).modelName("tiny")
                .temperature(0.0).maxTokens(12).customParameters(states(state)).maxRetries(0).build();
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("What is the code?")).build());
        assertEquals(direct.get("text").asText(), r.aiMessage().text());
        assertEquals(finish(direct), r.finishReason());
        assertEquals(direct.get("usage").get("prompt_tokens").asInt(), r.tokenUsage().inputTokenCount());
        assertEquals(direct.get("usage").get("completion_tokens").asInt(), r.tokenUsage().outputTokenCount());
        // and the same through the per-request parameters
        ChatResponse again = blocking(KEY).chat(question(states(state), 12));
        assertEquals(direct.get("text").asText(), again.aiMessage().text());
    }

    @Test
    void lengthIsReportedAsLangChain4jsLengthFinishReason() throws Exception {
        JsonNode direct = direct(2);
        assertEquals("length", direct.get("finish_reason").asText(), "2 tokens cannot finish the answer: " + direct);
        Streamed s = stream(streaming(KEY), question(states(state), 2));
        assertEquals(direct.get("text").asText(), s.text());
        assertEquals(FinishReason.LENGTH, s.response().finishReason());
        assertEquals(2, s.response().tokenUsage().outputTokenCount());
    }

    @Test
    void anUnknownStateIsAModelNotFoundExceptionCarryingTheProblemDetail() throws Exception {
        String missing = "0".repeat(64);
        Http.Response raw = http.post("/v1/chat/completions", Map.of("model", "tiny", "messages",
                List.of(Map.of("role", "user", "content", "hi")), "states", List.of(Map.of("id", missing))));
        assertEquals(404, raw.status(), raw.body());
        String detail = raw.json().get("detail").asText();

        RuntimeException e = assertThrows(RuntimeException.class, () -> blocking(KEY).chat(question(states(missing), 4)));
        assertInstanceOf(ModelNotFoundException.class, e, e.toString());
        assertTrue(e.getMessage().contains(detail), e.getMessage());
        assertTrue(e.getMessage().contains("https://engram.dev/problems/unknown-state"), e.getMessage());

        Streamed s = stream(streaming(KEY), question(states(missing), 4));
        assertInstanceOf(ModelNotFoundException.class, s.error(), String.valueOf(s.error()));
        assertTrue(s.error().getMessage().contains(detail), s.error().getMessage());
        assertTrue(s.partials().isEmpty(), "no text before the error: " + s.partials());
    }

    @Test
    void overTheRateLimitIsARateLimitExceptionCarryingTheProblemDetail() throws Exception {
        // 60 tokens a minute for this key, and each chat reserves its prompt + max_tokens: within a few requests
        // one is refused with a 429 (a token-count limit, so the outcome does not depend on how fast the machine is)
        OpenAiChatModel model = blocking(BURST);
        RuntimeException limited = null;
        for (int i = 0; i < 10 && limited == null; i++) {
            try {
                model.chat(question(states(burstState), 1));
            } catch (RuntimeException e) {
                limited = e;
            }
        }
        assertNotNull(limited, "60 tokens a minute: 10 chats of more than 6 tokens each must hit the limit");
        assertInstanceOf(RateLimitException.class, limited, limited.toString());
        assertTrue(limited.getMessage().contains("https://engram.dev/problems/rate-limited"), limited.getMessage());
        assertTrue(limited.getMessage().contains("\"detail\""), limited.getMessage());

        Streamed s = null;
        for (int i = 0; i < 10 && (s == null || s.error() == null); i++) {
            s = stream(streaming(BURST), question(states(burstState), 1));
        }
        assertInstanceOf(RateLimitException.class, s.error(), String.valueOf(s.error()));
        assertTrue(s.error().getMessage().contains("https://engram.dev/problems/rate-limited"), s.error().getMessage());
    }

    static FinishReason finish(JsonNode direct) {
        return switch (direct.get("finish_reason").asText()) {
            case "stop" -> FinishReason.STOP;
            case "length" -> FinishReason.LENGTH;
            default -> throw new AssertionError("unexpected finish reason " + direct);
        };
    }
}
