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
import io.engram.inference.TokenLogprob;
import io.engram.tokenizer.Tokenizer;
import io.engram.model.ChatTemplate;
import io.engram.security.Tenant;
import io.engram.state.StateService;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
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
                r.stop(), r.logprobs() != null, false, r.compose());
        String id = "cmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        Tokenizer tok = prepared.model().tokenizer();
        boolean logprobs = r.logprobs() != null;
        if (Boolean.TRUE.equals(r.stream())) {
            int[] offset = {0};
            return stream(prepared, includeUsage(r.streamOptions()), logprobs,
                    (text, finish, t) -> {
                        var lp = t == null ? null : completionLogprobs(List.of(t), tok, offset[0]);
                        offset[0] += text.length();
                        return new Completion(id, "text_completion", created, model,
                                List.of(new CompletionChoice(0, text, lp, finish)), null);
                    },
                    null,
                    usage -> new Completion(id, "text_completion", created, model, List.of(), usage));
        }
        var res = io.engram.inference.Await.get(generation.submit(prepared, (text, token) -> {}), props.scheduler().requestTimeout());
        return new Completion(id, "text_completion", created, model,
                List.of(new CompletionChoice(0, res.text(), logprobs ? completionLogprobs(res.logprobs(), tok, 0) : null,
                        finishReason(res.finishReason()))), usage(res));
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
        var req = new GenerationService.Request(tenant, modelId, StatesController.refs(r.states()), GenerateController.validated(() -> template.render(messages)),
                null, maxTokens, sampling(r.temperature(), r.topP(), r.topK(), r.minP(), r.presencePenalty(),
                r.frequencyPenalty(), r.seed(), logprobs), stop, logprobs != null, false, r.compose());
        String id = "chatcmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        Tokenizer tok = prepared.model().tokenizer();
        boolean wantLogprobs = logprobs != null;
        if (Boolean.TRUE.equals(r.stream())) {
            return stream(prepared, includeUsage(r.streamOptions()), wantLogprobs,
                    (text, finish, t) -> new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, finish == null ? new Delta(null, text) : new Delta(null, null),
                                    t == null ? null : chatLogprobs(List.of(t), tok), finish)), null),
                    new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, new Delta("assistant", ""), null, null)), null),
                    usage -> new ChatChunk(id, "chat.completion.chunk", created, model, List.of(), usage));
        }
        var res = io.engram.inference.Await.get(generation.submit(prepared, (text, token) -> {}), props.scheduler().requestTimeout());
        return new ChatCompletion(id, "chat.completion", created, model,
                List.of(new ChatChoice(0, new OpenAiDtos.Message("assistant", res.text()),
                        wantLogprobs ? chatLogprobs(res.logprobs(), tok) : null, finishReason(res.finishReason()))), usage(res));
    }

    /**
     * Streams {@code data: <chunk>} events: an optional first chunk, one chunk per piece of text, a last chunk
     * with the finish reason, the usage chunk when asked for, then {@code data: [DONE]}.
     */
    /** Makes a chunk from a piece of text, the finish reason (last chunk only) and the token (when logprobs are on). */
    interface ChunkMaker {
        Object make(String text, String finish, SampledToken token);
    }

    private Object stream(GenerationService.Prepared prepared, boolean includeUsage, boolean logprobs,
                          ChunkMaker chunk, Object first,
                          java.util.function.Function<Usage, Object> usageChunk) {
        SseStream out = new SseStream(props.scheduler().requestTimeout().toMillis() + 5_000,
                GenerateController.STREAM_BUFFER_EVENTS);
        if (first != null) out.offer(data(first));
        GenerationService.Sink sink = new GenerationService.Sink() {
            @Override
            public void token(String text, SampledToken t) {
                // with logprobs every token has its chunk (its text may be empty while a character is incomplete)
                if (logprobs) out.offer(data(chunk.make(text, null, t)));
                else if (!text.isEmpty()) out.offer(data(chunk.make(text, null, null)));
            }

            @Override
            public void tail(String text) {
                out.offer(data(chunk.make(text, null, null)));
            }

            @Override
            public boolean cancelled() {
                return out.gone();
            }
        };
        var f = generation.submit(prepared, sink); // may refuse (429/503): then no writer thread was started
        out.start();
        f.whenComplete((res, err) -> {
            if (err != null) {
                out.offer("event: error\ndata: " + json.writeValueAsString(ProblemHandler.problemOf(err)) + "\n\n");
            } else {
                out.offer(data(chunk.make("", finishReason(res.finishReason()), null)));
                if (includeUsage) out.offer(data(usageChunk.apply(usage(res))));
            }
            out.offer("data: [DONE]\n\n");
            out.close();
        });
        return out.response();
    }

    /**
     * The legacy completions shape: token texts, their log-probabilities, the top alternatives as text to
     * log-probability, and each token's character offset in the completion text, counted from {@code offset}
     * (the characters completed by the tokens before it). A token whose bytes are not whole UTF-8 characters on
     * their own is written {@code bytes:\\xNN…}, as OpenAI does, so the alternatives' keys stay distinct.
     */
    static OpenAiDtos.CompletionLogprobs completionLogprobs(List<SampledToken> tokens, Tokenizer tok, int offset) {
        List<String> texts = new ArrayList<>();
        List<Double> lps = new ArrayList<>();
        List<Map<String, Double>> tops = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        java.io.ByteArrayOutputStream prefix = new java.io.ByteArrayOutputStream();
        for (SampledToken t : tokens) {
            texts.add(legacyText(tok, t.token()));
            lps.add(t.logprob());
            Map<String, Double> top = new java.util.LinkedHashMap<>();
            for (TokenLogprob a : t.top()) top.putIfAbsent(legacyText(tok, a.token()), a.logprob());
            tops.add(top);
            offsets.add(offset + completeChars(prefix.toByteArray()));
            prefix.writeBytes(tok.decodeBytes(new int[] {t.token()}));
        }
        return new OpenAiDtos.CompletionLogprobs(texts, lps, tops, offsets);
    }

    /** The token's text, or {@code bytes:\xNN…} when its bytes are not valid UTF-8 by themselves. */
    private static String legacyText(Tokenizer tok, int id) {
        byte[] b = tok.decodeBytes(new int[] {id});
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            StringBuilder sb = new StringBuilder("bytes:");
            for (byte x : b) sb.append(String.format("\\x%02x", x & 0xff));
            return sb.toString();
        }
    }

    /** UTF-16 length of the text of {@code utf8}, less an incomplete character at its end. */
    static int completeChars(byte[] utf8) {
        int end = utf8.length;
        for (int back = 1; back <= Math.min(3, utf8.length); back++) {
            int b = utf8[utf8.length - back] & 0xff;
            if ((b & 0xC0) == 0x80) continue;                        // a continuation byte: keep looking for the lead
            int need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (need > back) end = utf8.length - back;               // the lead's character is not complete yet
            break;
        }
        return new String(utf8, 0, end, java.nio.charset.StandardCharsets.UTF_8).length();
    }

    /** The chat shape: {@code content[]} of {token, logprob, bytes, top_logprobs[]}. */
    static OpenAiDtos.ChatLogprobs chatLogprobs(List<SampledToken> tokens, Tokenizer tok) {
        List<OpenAiDtos.ChatTokenLogprob> content = new ArrayList<>();
        for (SampledToken t : tokens) {
            List<OpenAiDtos.TopLogprob> top = new ArrayList<>();
            for (TokenLogprob a : t.top()) top.add(new OpenAiDtos.TopLogprob(text(tok, a.token()), a.logprob(), bytes(tok, a.token())));
            content.add(new OpenAiDtos.ChatTokenLogprob(text(tok, t.token()), t.logprob(), bytes(tok, t.token()), top));
        }
        return new OpenAiDtos.ChatLogprobs(content);
    }

    private static String text(Tokenizer tok, int id) {
        return new String(tok.decodeBytes(new int[] {id}), java.nio.charset.StandardCharsets.UTF_8);
    }

    private static List<Integer> bytes(Tokenizer tok, int id) {
        List<Integer> out = new ArrayList<>();
        for (byte b : tok.decodeBytes(new int[] {id})) out.add(b & 0xff);
        return out;
    }

    private String data(Object chunk) {
        return "data: " + json.writeValueAsString(chunk) + "\n\n";
    }

    private static boolean includeUsage(OpenAiDtos.StreamOptions o) {
        return o != null && Boolean.TRUE.equals(o.includeUsage());
    }

    private static SamplingParams sampling(Double temperature, Double topP, Integer topK, Double minP,
                                           Double presence, Double frequency, Long seed, Integer logprobs) {
        return GenerateController.validated(() -> new SamplingParams(temperature == null ? 1.0 : temperature,
                topP == null ? 1.0 : topP, topK == null ? 0 : topK, minP == null ? 0.0 : minP,
                presence == null ? 0.0 : presence, frequency == null ? 0.0 : frequency, seed,
                logprobs == null ? 0 : logprobs));
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
