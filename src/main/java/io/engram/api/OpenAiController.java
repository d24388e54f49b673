package io.engram.api;

import io.engram.api.OpenAiDtos.ChatChoice;
import io.engram.api.OpenAiDtos.ChatChunk;
import io.engram.api.OpenAiDtos.ChatCompletion;
import io.engram.api.OpenAiDtos.ChatRequest;
import io.engram.api.OpenAiDtos.ChunkChoice;
import io.engram.api.OpenAiDtos.Completion;
import io.engram.api.OpenAiDtos.CompletionChoice;
import io.engram.api.OpenAiDtos.CompletionRequest;
import io.engram.api.OpenAiDtos.Delta;
import io.engram.api.OpenAiDtos.Usage;
import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.inference.GenerationService;
import io.engram.inference.SampledToken;
import io.engram.inference.SamplingParams;
import io.engram.model.ChatTemplate;
import io.engram.security.Tenant;
import io.engram.state.StateService;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiFunction;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.ObjectMapper;

/**
 * OpenAI-compatible {@code /v1/completions} and {@code /v1/chat/completions}, streaming and not, with the extra
 * field {@code states} (memory states to answer from). Chat messages are rendered with the model's chat template.
 * Streams are {@code data: <chunk>} lines ending with {@code data: [DONE]}.
 */
@RestController
public class OpenAiController {

    private final GenerationService generation;
    private final StateService states;
    private final EngramProperties props;
    private final ObjectMapper json;

    public OpenAiController(GenerationService generation, StateService states, EngramProperties props, ObjectMapper json) {
        this.generation = generation;
        this.states = states;
        this.props = props;
        this.json = json;
    }

    @PostMapping("/v1/completions")
    public Object completions(Tenant tenant, @RequestBody CompletionRequest r) {
        if (r.n() != null && r.n() != 1) throw invalid("only n = 1 is supported");
        if (Boolean.TRUE.equals(r.echo())) throw invalid("echo is not supported");
        String prompt = null;
        int[] promptTokens = null;
        if (r.prompt() instanceof String s) {
            prompt = s;
        } else if (r.prompt() instanceof List<?> l && l.size() == 1 && l.get(0) instanceof String s) {
            prompt = s;
        } else if (r.prompt() instanceof List<?> l && l.stream().allMatch(x -> x instanceof Integer)) {
            promptTokens = l.stream().mapToInt(x -> (Integer) x).toArray();
        } else if (r.prompt() != null) {
            throw invalid("'prompt' must be a string, a list with one string, or a list of token ids");
        }
        var req = new GenerationService.Request(tenant, r.model(), StatesController.refs(r.states()), prompt, promptTokens,
                r.maxTokens() == null ? 16 : r.maxTokens(),
                sampling(r.temperature(), r.topP(), r.topK(), r.minP(), r.presencePenalty(), r.frequencyPenalty(),
                        r.seed(), r.logprobs()),
                r.stop(), false, false, r.compose());
        String id = "cmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        if (Boolean.TRUE.equals(r.stream())) {
            return stream(prepared, includeUsage(r.streamOptions()),
                    (text, finish) -> new Completion(id, "text_completion", created, model,
                            List.of(new CompletionChoice(0, text, null, finish)), null),
                    null,
                    usage -> new Completion(id, "text_completion", created, model, List.of(), usage));
        }
        var res = io.engram.inference.Await.get(generation.submit(prepared, (text, token) -> {}), props.scheduler().requestTimeout());
        return new Completion(id, "text_completion", created, model,
                List.of(new CompletionChoice(0, res.text(), null, finishReason(res.finishReason()))), usage(res));
    }

    @PostMapping("/v1/chat/completions")
    public Object chat(Tenant tenant, @RequestBody ChatRequest r) {
        if (r.n() != null && r.n() != 1) throw invalid("only n = 1 is supported");
        if (r.messages() == null || r.messages().isEmpty()) throw invalid("'messages' must hold at least one message");
        String modelId = r.model();
        if (modelId == null && r.states() != null && !r.states().isEmpty() && r.states().get(0) != null) {
            modelId = states.meta(tenant, r.states().get(0).id()).model();
        }
        ChatTemplate template = states.model(modelId).chatTemplate();
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (OpenAiDtos.ChatMessage m : r.messages()) {
            if (m == null || m.role() == null) throw invalid("every message needs a 'role' and 'content'");
            messages.add(new ChatTemplate.Message(m.role(), content(m.content())));
        }
        List<String> stop = new ArrayList<>(template.stop());
        if (r.stop() != null) stop.addAll(r.stop());
        Integer maxTokens = r.maxCompletionTokens() != null ? r.maxCompletionTokens() : r.maxTokens();
        Integer logprobs = Boolean.TRUE.equals(r.logprobs()) ? (r.topLogprobs() == null ? 0 : r.topLogprobs()) : null;
        var req = new GenerationService.Request(tenant, modelId, StatesController.refs(r.states()), template.render(messages),
                null, maxTokens, sampling(r.temperature(), r.topP(), r.topK(), r.minP(), r.presencePenalty(),
                r.frequencyPenalty(), r.seed(), logprobs), stop, false, false, r.compose());
        String id = "chatcmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        if (Boolean.TRUE.equals(r.stream())) {
            return stream(prepared, includeUsage(r.streamOptions()),
                    (text, finish) -> new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, finish == null ? new Delta(null, text) : new Delta(null, null), null, finish)), null),
                    new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, new Delta("assistant", ""), null, null)), null),
                    usage -> new ChatChunk(id, "chat.completion.chunk", created, model, List.of(), usage));
        }
        var res = io.engram.inference.Await.get(generation.submit(prepared, (text, token) -> {}), props.scheduler().requestTimeout());
        return new ChatCompletion(id, "chat.completion", created, model,
                List.of(new ChatChoice(0, new OpenAiDtos.Message("assistant", res.text()), null,
                        finishReason(res.finishReason()))), usage(res));
    }

    /**
     * Streams {@code data: <chunk>} events: an optional first chunk, one chunk per piece of text, a last chunk
     * with the finish reason, the usage chunk when asked for, then {@code data: [DONE]}.
     */
    private Object stream(GenerationService.Prepared prepared, boolean includeUsage,
                          BiFunction<String, String, Object> chunk, Object first,
                          java.util.function.Function<Usage, Object> usageChunk) {
        SseStream out = new SseStream(props.scheduler().requestTimeout().toMillis() + 5_000,
                GenerateController.STREAM_BUFFER_EVENTS);
        if (first != null) out.offer(data(first));
        GenerationService.Sink sink = new GenerationService.Sink() {
            @Override
            public void token(String text, SampledToken t) {
                if (!text.isEmpty()) out.offer(data(chunk.apply(text, null)));
            }

            @Override
            public void tail(String text) {
                out.offer(data(chunk.apply(text, null)));
            }

            @Override
            public boolean cancelled() {
                return out.gone();
            }
        };
        generation.submit(prepared, sink).whenComplete((res, err) -> {
            if (err != null) {
                out.offer("event: error\ndata: " + json.writeValueAsString(ProblemHandler.problemOf(err)) + "\n\n");
            } else {
                out.offer(data(chunk.apply("", finishReason(res.finishReason()))));
                if (includeUsage) out.offer(data(usageChunk.apply(usage(res))));
            }
            out.offer("data: [DONE]\n\n");
            out.close();
        });
        return out.response();
    }

    private String data(Object chunk) {
        return "data: " + json.writeValueAsString(chunk) + "\n\n";
    }

    private static boolean includeUsage(OpenAiDtos.StreamOptions o) {
        return o != null && Boolean.TRUE.equals(o.includeUsage());
    }

    private static SamplingParams sampling(Double temperature, Double topP, Integer topK, Double minP,
                                           Double presence, Double frequency, Long seed, Integer logprobs) {
        return new SamplingParams(temperature == null ? 1.0 : temperature, topP == null ? 1.0 : topP,
                topK == null ? 0 : topK, minP == null ? 0.0 : minP, presence == null ? 0.0 : presence,
                frequency == null ? 0.0 : frequency, seed, logprobs == null ? 0 : logprobs);
    }

    private static Usage usage(GenerationService.Result res) {
        int p = res.usage().promptTokens(), c = res.usage().completionTokens();
        return new Usage(p, c, p + c);
    }

    private static String finishReason(String engram) {
        return engram.equals("length") ? "length" : "stop";
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

    private static EngramException invalid(String detail) {
        return new EngramException(ProblemType.INVALID_REQUEST, detail);
    }

    private static String randomId() {
        byte[] b = new byte[12];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
