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
import io.engram.error.ProblemRenderer;
import io.engram.inference.GenerationService;
import io.engram.inference.SampledToken;
import io.engram.inference.TokenLogprob;
import io.engram.model.ModelRegistry;
import io.engram.state.StateService;
import io.engram.tenant.Tenant;
import io.engram.tokenizer.Tokenizer;
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
    private final ModelRegistry models;
    private final SseStreams streams;
    private final ObjectMapper json;

    public OpenAiController(GenerationService generation, StateService states, ModelRegistry models, SseStreams streams,
                            ObjectMapper json) {
        this.generation = generation;
        this.states = states;
        this.models = models;
        this.streams = streams;
        this.json = json;
    }

    @PostMapping("/v1/completions")
    public Object completions(Tenant tenant, @RequestBody CompletionRequest r) {
        var req = r.toDomain(tenant);
        String id = "cmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        Tokenizer tok = prepared.model().tokenizer();
        boolean logprobs = req.wantLogprobs();
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
        var res = generation.complete(prepared);
        return new Completion(id, "text_completion", created, model,
                List.of(new CompletionChoice(0, res.text(), logprobs ? completionLogprobs(res.logprobs(), tok, 0) : null,
                        finishReason(res.finishReason()))), usage(res));
    }

    @PostMapping("/v1/chat/completions")
    public Object chat(Tenant tenant, @RequestBody ChatRequest r) {
        var req = r.toDomain(tenant, () -> chatModel(tenant, r), id -> models.require(id).chatTemplate());
        boolean wantLogprobs = req.wantLogprobs();
        String id = "chatcmpl-" + randomId();
        long created = System.currentTimeMillis() / 1000;
        var prepared = generation.prepare(req);
        String model = prepared.model().id();
        Tokenizer tok = prepared.model().tokenizer();
        if (Boolean.TRUE.equals(r.stream())) {
            return stream(prepared, includeUsage(r.streamOptions()), wantLogprobs,
                    (text, finish, t) -> new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, finish == null ? new Delta(null, text) : new Delta(null, null),
                                    t == null ? null : chatLogprobs(List.of(t), tok), finish)), null),
                    new ChatChunk(id, "chat.completion.chunk", created, model,
                            List.of(new ChunkChoice(0, new Delta("assistant", ""), null, null)), null),
                    usage -> new ChatChunk(id, "chat.completion.chunk", created, model, List.of(), usage));
        }
        var res = generation.complete(prepared);
        return new ChatCompletion(id, "chat.completion", created, model,
                List.of(new ChatChoice(0, new OpenAiDtos.Message("assistant", res.text()),
                        wantLogprobs ? chatLogprobs(res.logprobs(), tok) : null, finishReason(res.finishReason()))), usage(res));
    }

    /** The request's model, or, when it names none, the model of its first state. */
    private String chatModel(Tenant tenant, ChatRequest r) {
        if (r.model() == null && r.states() != null && !r.states().isEmpty() && r.states().get(0) != null) {
            return states.meta(tenant, r.states().get(0).id()).model();
        }
        return r.model();
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
        SseStream out = streams.open();
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
                out.offer("event: error\ndata: " + json.writeValueAsString(ProblemRenderer.problemOf(err)) + "\n\n");
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

    private static Usage usage(GenerationService.Result res) {
        int p = res.usage().promptTokens(), c = res.usage().completionTokens();
        return new Usage(p, c, p + c);
    }

    private static String finishReason(String engram) {
        return engram.equals("length") ? "length" : "stop";
    }

    private static String randomId() {
        byte[] b = new byte[12];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
