package io.engram.api;

import io.engram.api.Dtos.BatchPrimeRequest;
import io.engram.api.Dtos.BatchPrimeResponse;
import io.engram.api.Dtos.CombineRequest;
import io.engram.api.Dtos.PrimeRequest;
import io.engram.api.Dtos.StateRef;
import io.engram.api.Dtos.StateView;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.state.StateService;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** Memory states: prime, batch prime, metadata, delete, combine. */
@RestController
public class StatesController {

    private final StateService states;

    public StatesController(StateService states) {
        this.states = states;
    }

    @PostMapping("/v1/states")
    public ResponseEntity<StateView> prime(@RequestBody PrimeRequest r) {
        return created(states.prime(r.model(), r.text(), r.tokens(), r.parent(), r.ttlSeconds()));
    }

    @PostMapping("/v1/states/batch")
    public BatchPrimeResponse batch(@RequestBody BatchPrimeRequest r) {
        if (r.documents() == null || r.documents().isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'documents' must list at least one document");
        }
        List<Object> results = new ArrayList<>();
        for (PrimeRequest d : r.documents()) {
            try {
                String model = d.model() != null ? d.model() : r.model();
                Long ttl = d.ttlSeconds() != null ? d.ttlSeconds() : r.ttlSeconds();
                var res = states.prime(model, d.text(), d.tokens(), d.parent(), ttl);
                results.add(StateView.of(res.meta(), !res.created(), res.created() ? res.computeMs() : null));
            } catch (EngramException e) {
                results.add(ProblemHandler.problem(e.type(), e.getMessage(), null));
            }
        }
        return new BatchPrimeResponse(results);
    }

    @GetMapping("/v1/states/{id}")
    public StateView get(@PathVariable String id) {
        return StateView.of(states.meta(id), true, null);
    }

    @DeleteMapping("/v1/states/{id}")
    public ResponseEntity<Void> delete(@PathVariable String id) {
        states.delete(id);
        return ResponseEntity.noContent().build();
    }

    @PostMapping("/v1/states/combine")
    public ResponseEntity<StateView> combine(@RequestBody CombineRequest r) {
        return created(states.combine(refs(r.states()), r.ttlSeconds()));
    }

    static List<StateService.Ref> refs(List<StateRef> in) {
        if (in == null) return List.of();
        List<StateService.Ref> out = new ArrayList<>();
        for (StateRef s : in) {
            if (s == null) throw new EngramException(ProblemType.INVALID_REQUEST, "'states' entries must be {\"id\", \"weight\"}");
            out.add(new StateService.Ref(s.id(), s.weight() == null ? 1.0 : s.weight()));
        }
        return out;
    }

    private static ResponseEntity<StateView> created(StateService.Result r) {
        StateView v = StateView.of(r.meta(), !r.created(), r.created() ? r.computeMs() : null);
        if (!r.created()) return ResponseEntity.ok(v);
        return ResponseEntity.created(URI.create("/v1/states/" + r.meta().id())).body(v);
    }
}
