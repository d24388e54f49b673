package io.engram.api;

import io.engram.api.Dtos.DoneEvent;
import io.engram.api.Dtos.GenerateRequest;
import io.engram.api.Dtos.GenerateResponse;
import io.engram.api.Dtos.LogprobView;
import io.engram.api.Dtos.TokenEvent;
import io.engram.error.ProblemRenderer;
import io.engram.inference.GenerationService;
import io.engram.inference.SampledToken;
import io.engram.tenant.Tenant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.ResponseBodyEmitter;
import tools.jackson.databind.ObjectMapper;

/** {@code POST /v1/generate}: JSON, or Server-Sent Events with {@code "stream": true}. */
@RestController
public class GenerateController {

    private final GenerationService generation;
    private final SseStreams streams;
    private final ObjectMapper json;

    public GenerateController(GenerationService generation, SseStreams streams, ObjectMapper json) {
        this.generation = generation;
        this.streams = streams;
        this.json = json;
    }

    @PostMapping(value = "/v1/generate")
    public Object generate(Tenant tenant, @RequestBody GenerateRequest r) {
        GenerationService.Request req = r.toDomain(tenant);
        if (Boolean.TRUE.equals(r.stream())) return stream(generation.prepare(req), r.logprobs() != null);
        GenerationService.Result res = generation.generate(req, (text, token) -> {});
        return new GenerateResponse(res.model(), res.text(), res.tokens(), res.finishReason(),
                res.logprobs() == null ? null : res.logprobs().stream().map(GenerateController::view).toList(),
                res.stateId(), res.usage(), res.timings(), res.componentWeights(), res.stateComposition());
    }

    private static LogprobView view(SampledToken t) {
        return new LogprobView(t.token(), t.logprob(), t.top());
    }

    /**
     * Streams tokens as Server-Sent Events ({@code event: token|done|error}, {@code data: <json>}) as they come;
     * a client that goes away or stops reading leaves the batch within one step.
     */
    private ResponseEntity<ResponseBodyEmitter> stream(GenerationService.Prepared prepared, boolean logprobs) {
        SseStream out = streams.open();
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
                out.offer(sse("error", ProblemRenderer.problemOf(err)));
            } else {
                out.offer(sse("done", new DoneEvent(res.finishReason(), res.stateId(), res.usage(), res.timings(),
                        res.componentWeights(), res.stateComposition())));
            }
            out.close();
        });
        return out.response();
    }

    private String sse(String event, Object data) {
        return "event: " + event + "\ndata: " + json.writeValueAsString(data) + "\n\n";
    }
}
