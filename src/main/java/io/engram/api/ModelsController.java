package io.engram.api;

import io.engram.api.Dtos.DetokenizeRequest;
import io.engram.api.Dtos.DetokenizeResponse;
import io.engram.api.Dtos.ModelList;
import io.engram.api.Dtos.ModelView;
import io.engram.api.Dtos.TokenizeRequest;
import io.engram.api.Dtos.TokenizeResponse;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.model.LoadedModel;
import io.engram.model.ModelRegistry;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** {@code GET /v1/models}, {@code POST /v1/tokenize}, {@code POST /v1/detokenize}. */
@RestController
public class ModelsController {

    private final ModelRegistry models;

    public ModelsController(ModelRegistry models) {
        this.models = models;
    }

    @GetMapping("/v1/models")
    public ModelList list() {
        return new ModelList(models.all().stream().map(this::view).toList());
    }

    private ModelView view(LoadedModel m) {
        var net = m.model();
        return new ModelView(m.id(), m.architecture(), net.parameters(), net.layers(), net.vocabSize(),
                net.stateBytes(), "float32", m.weightsDtype(), m.serveDtype(), m.device(), m.fingerprint(), m.tokenizerKind(),
                m.id().equals(models.defaultId()), m.description());
    }

    @PostMapping("/v1/tokenize")
    public TokenizeResponse tokenize(@RequestBody TokenizeRequest r) {
        if (r.text() == null) throw new EngramException(ProblemType.INVALID_REQUEST, "'text' is required");
        int[] ids = models.require(r.model()).tokenizer().encode(r.text());
        return new TokenizeResponse(ids, ids.length);
    }

    @PostMapping("/v1/detokenize")
    public DetokenizeResponse detokenize(@RequestBody DetokenizeRequest r) {
        if (r.tokens() == null) throw new EngramException(ProblemType.INVALID_REQUEST, "'tokens' is required");
        LoadedModel m = models.require(r.model());
        int[] ids = m.tokens(null, r.tokens(), "tokens", true);
        return new DetokenizeResponse(m.tokenizer().decode(ids));
    }
}
