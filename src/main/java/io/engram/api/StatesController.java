package io.engram.api;

import io.engram.api.Dtos.BatchPrimeRequest;
import io.engram.api.Dtos.BatchPrimeResponse;
import io.engram.api.Dtos.CombineRequest;
import io.engram.api.Dtos.PrimeRequest;
import io.engram.api.Dtos.StateRef;
import io.engram.api.Dtos.StateView;
import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemRenderer;
import io.engram.error.ProblemType;
import io.engram.state.StateIds;
import io.engram.state.StateMixer;
import io.engram.state.StateService;
import io.engram.tenant.Tenant;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * Memory states: prime, batch prime, metadata, delete, combine, blob export and import. Every verb acts for the
 * request's {@link Tenant} (see {@link io.engram.security.SecurityFilter}).
 */
@RestController
public class StatesController {

    private final StateService states;
    private final StateMixer mixer;
    private final EngramProperties props;

    public StatesController(StateService states, StateMixer mixer, EngramProperties props) {
        this.states = states;
        this.mixer = mixer;
        this.props = props;
    }

    @PostMapping("/v1/states")
    public ResponseEntity<StateView> prime(Tenant tenant, @RequestBody PrimeRequest r) {
        return created(states.prime(tenant, r.model(), r.text(), r.tokens(), r.parent(), r.ttlSeconds()));
    }

    @PostMapping("/v1/states/batch")
    public BatchPrimeResponse batch(Tenant tenant, @RequestBody BatchPrimeRequest r) {
        if (r.documents() == null || r.documents().isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'documents' must list at least one document");
        }
        int max = props.limits().maxBatchDocuments();
        if (r.documents().size() > max) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, r.documents().size() + " documents given; at most "
                    + max + " may be primed in one batch (engram.limits.max-batch-documents)");
        }
        List<Object> results = new ArrayList<>();
        for (PrimeRequest d : r.documents()) {
            try {
                if (d == null) throw new EngramException(ProblemType.INVALID_REQUEST, "a document must be an object with 'text' or 'tokens'");
                String model = d.model() != null ? d.model() : r.model();
                Long ttl = d.ttlSeconds() != null ? d.ttlSeconds() : r.ttlSeconds();
                var res = states.prime(tenant, model, d.text(), d.tokens(), d.parent(), ttl);
                results.add(StateView.of(res.meta(), !res.created(), res.created() ? res.computeMs() : null));
            } catch (EngramException e) {
                results.add(ProblemRenderer.problem(e, null));
            }
        }
        return new BatchPrimeResponse(results);
    }

    @GetMapping("/v1/states/{id}")
    public StateView get(Tenant tenant, @PathVariable String id) {
        return StateView.of(states.meta(tenant, id), true, null);
    }

    @DeleteMapping("/v1/states/{id}")
    public ResponseEntity<Void> delete(Tenant tenant, @PathVariable String id) {
        states.delete(tenant, id);
        return ResponseEntity.noContent().build();
    }

    @PostMapping("/v1/states/combine")
    public ResponseEntity<StateView> combine(Tenant tenant, @RequestBody CombineRequest r) {
        return created(mixer.combine(tenant, StateRef.toDomain(r.states()), r.ttlSeconds()));
    }

    /**
     * The state in Engram's binary format (docs/STATE_FORMAT.md). The ETag is the id the state gets when this blob
     * is imported by the same tenant: the blob's SHA-256 (salted by the tenant when authentication is on).
     */
    @GetMapping("/v1/states/{id}/blob")
    public ResponseEntity<byte[]> blob(Tenant tenant, @PathVariable String id) {
        byte[] blob = states.exportBlob(tenant, id);
        return ResponseEntity.ok()
                .contentType(MediaType.APPLICATION_OCTET_STREAM)
                .eTag("\"" + StateIds.imported(tenant.salt(), blob) + "\"")
                .header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + id + ".engram\"")
                .body(blob);
    }

    /**
     * Imports a blob (any content type; {@code application/octet-stream} is usual). 201 with the metadata, or 200
     * when a state with this blob's id already exists. The body is read up to the largest blob a loaded model can
     * produce, so an oversized upload is refused before it is buffered.
     */
    @PostMapping("/v1/states/import")
    public ResponseEntity<StateView> importBlob(Tenant tenant, HttpServletRequest req,
                                                @RequestParam(name = "ttl_seconds", required = false) Long ttlSeconds)
            throws IOException {
        states.checkBlobSize(req.getContentLengthLong());
        byte[] body;
        try (InputStream in = req.getInputStream()) {
            body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 16, states.maxBlobBytes() + 1));
        }
        states.checkBlobSize(body.length);
        if (body.length == 0) {
            throw new EngramException(ProblemType.INVALID_STATE_BLOB, "the body is empty: send the bytes of GET /v1/states/{id}/blob");
        }
        return created(states.importBlob(tenant, body, ttlSeconds));
    }

    private static ResponseEntity<StateView> created(StateService.Result r) {
        StateView v = StateView.of(r.meta(), !r.created(), r.created() ? r.computeMs() : null);
        if (!r.created()) return ResponseEntity.ok(v);
        return ResponseEntity.created(URI.create("/v1/states/" + r.meta().id())).body(v);
    }
}
