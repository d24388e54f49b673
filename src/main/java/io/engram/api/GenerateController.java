package io.engram.api;

import io.engram.api.Dtos.DoneEvent;
import io.engram.api.Dtos.GenerateRequest;
import io.engram.api.Dtos.GenerateResponse;
import io.engram.api.Dtos.LogprobView;
import io.engram.api.Dtos.TokenEvent;
import io.engram.config.EngramProperties;
import io.engram.inference.GenerationService;
import io.engram.inference.SampledToken;
import io.engram.inference.SamplingParams;
import io.engram.security.Tenant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.http.ResponseEntity;
import org.springframework.web.servlet.mvc.method.annotation.ResponseBodyEmitter;
import tools.jackson.databind.ObjectMapper;

/** {@code POST /v1/generate}: JSON, or Server-Sent Events with {@code "stream": true}. */
@RestController
public class GenerateController {

    private final GenerationService generation;
    private final EngramProperties props;
    private final ObjectMapper json;

    public GenerateController(GenerationService generation, EngramProperties props, ObjectMapper json) {
        this.generation = generation;
        this.props = props;
        this.json = json;
    }

    @PostMapping(value = "/v1/generate")
    public Object generate(Tenant tenant, @RequestBody GenerateRequest r) {
        GenerationService.Request req = toRequest(tenant, r);
        if (Boolean.TRUE.equals(r.stream())) return stream(generation.prepare(req), r.logprobs() != null);
        GenerationService.Result res = generation.generate(req, (text, token) -> {});
        return new GenerateResponse(res.model(), res.text(), res.tokens(), res.finishReason(),
                res.logprobs() == null ? null : res.logprobs().stream().map(GenerateController::view).toList(),
                res.stateId(), res.usage(), res.timings(), res.componentWeights(), res.stateComposition());
    }

    static GenerationService.Request toRequest(Tenant tenant, GenerateRequest r) {
        SamplingParams sampling = validated(() -> new SamplingParams(
                r.temperature() == null ? 1.0 : r.temperature(),
                r.topP() == null ? 1.0 : r.topP(),
                r.topK() == null ? 0 : r.topK(),
                r.minP() == null ? 0.0 : r.minP(),
                r.presencePenalty() == null ? 0.0 : r.presencePenalty(),
                r.frequencyPenalty() == null ? 0.0 : r.frequencyPenalty(),
                r.seed(),
                r.logprobs() == null ? 0 : r.logprobs()));
        return new GenerationService.Request(tenant, r.model(), StatesController.refs(r.states()), r.prompt(),
                r.promptTokens(), r.maxTokens(), sampling, r.stop(), r.logprobs() != null,
                Boolean.TRUE.equals(r.saveState()), r.compose());
    }

    /**
     * Runs a constructor whose range checks throw {@code IllegalArgumentException} ("top_p must be in (0, 1], …"):
     * that is the client's input, so it becomes a 400, naming the field in {@code errors} when it is a sampling parameter.
     */
    private static final java.util.Set<String> SAMPLING_FIELDS = java.util.Set.of("temperature", "top_p", "top_k", "min_p",
            "presence_penalty", "frequency_penalty", "logprobs");

    static <T> T validated(java.util.function.Supplier<T> make) {
        try {
            return make.get();
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? "the request is invalid" : e.getMessage();
            String field = m.split(" ", 2)[0];
            if (!SAMPLING_FIELDS.contains(field)) throw new io.engram.error.EngramException(io.engram.error.ProblemType.INVALID_REQUEST, m);
            throw io.engram.error.EngramException.field(io.engram.error.ProblemType.INVALID_REQUEST, field, m);
        }
    }

    private static LogprobView view(SampledToken t) {
        return new LogprobView(t.token(), t.logprob(), t.top());
    }

    /**
     * Streams tokens as Server-Sent Events ({@code event: token|done|error}, {@code data: <json>}) as they come;
     * a client that goes away or stops reading leaves the batch within one step.
     */
    private ResponseEntity<ResponseBodyEmitter> stream(GenerationService.Prepared prepared, boolean logprobs) {
        SseStream out = new SseStream(props.scheduler().requestTimeout().toMillis() + 5_000, STREAM_BUFFER_EVENTS);
        GenerationService.Sink sink = new GenerationService.Sink() {
            @Override
            public void token(String text, SampledToken t) {
                out.offer(sse("token", new TokenEvent(text, t.token(), logprobs ? t.logprob() : null, logprobs ? t.top() : null)));
            }

            @Override
            public void tail(String text) {
                out.offer(sse("token", new TokenEvent(text, null, null, null)));
            }

            @Override
            public boolean cancelled() {
                return out.gone();
            }
        };
        CompletableFuture<GenerationService.Result> f = generation.submit(prepared, sink); // may refuse: no writer yet
        out.start();
        f.whenComplete((res, err) -> {
            if (err != null) {
                out.offer(sse("error", ProblemHandler.problemOf(err)));
            } else {
                out.offer(sse("done", new DoneEvent(res.finishReason(), res.stateId(), res.usage(), res.timings(),
                        res.componentWeights(), res.stateComposition())));
            }
            out.close();
        });
        return out.response();
    }

    /** Events buffered for a client that reads slowly, before it is dropped. */
    static final int STREAM_BUFFER_EVENTS = 4096;

    private String sse(String event, Object data) {
        return "event: " + event + "\ndata: " + json.writeValueAsString(data) + "\n\n";
    }
}
