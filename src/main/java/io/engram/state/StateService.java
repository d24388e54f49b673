package io.engram.state;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.inference.DeviceScheduler;
import io.engram.inference.Await;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LoadedModel;
import io.engram.model.ModelRegistry;
import io.engram.model.ModelState;
import io.engram.security.Tenant;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.springframework.stereotype.Service;

/**
 * Priming, combining, reading and deleting memory states. Model work goes through the {@link DeviceScheduler};
 * validation happens first, so bad input never reaches the model or the store.
 *
 * <p>Every verb acts for a {@link Tenant}: ids are salted by it (when authentication is on) and a state is visible
 * only to the tenant recorded in its metadata. Another tenant's state is answered exactly as a missing one
 * ({@code 404 unknown-state}, same detail), so nothing tells a tenant whether someone else holds a document.
 */
@Service
public class StateService {

    private final ModelRegistry models;
    private final StateStore store;
    private final DeviceScheduler scheduler;
    private final EngramProperties props;
    private final Clock clock;
    private final EngramMetrics metrics;
    /** Single flight: the prime/combine/import of an id that is being computed right now, by whoever started it. */
    private final ConcurrentHashMap<String, CompletableFuture<Result>> inflight = new ConcurrentHashMap<>();

    public StateService(ModelRegistry models, StateStore store, DeviceScheduler scheduler, EngramProperties props, Clock clock,
                        EngramMetrics metrics) {
        this.models = models;
        this.store = store;
        this.scheduler = scheduler;
        this.props = props;
        this.clock = clock;
        this.metrics = metrics;
    }

    /** Outcome of a prime or combine: the metadata, whether it was new, and the model time it took. */
    public record Result(StateMeta meta, boolean created, double computeMs) {}

    /** A weighted reference to a stored state. */
    public record Ref(String id, double weight) {}

    /** The starting point of a generation: a private copy of the (combined) state and where it came from. */
    public record Start(String model, ModelState state, float[] lastLogits, String id, long tokens, double loadMs) {}

    /**
     * The model named {@code id} (null or blank: the default model). A model id is a folder name and nothing else:
     * anything but {@code [A-Za-z0-9._-]} (or {@code .}/{@code ..}) is refused before any lookup.
     */
    public LoadedModel model(String id) {
        if (id != null && !id.isBlank() && !isModelId(id)) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'model' must be a model id: a folder name of at most "
                    + "128 letters, digits, '.', '_' or '-' (GET /v1/models lists them)");
        }
        return models.find(id).orElseThrow(() -> new EngramException(ProblemType.UNKNOWN_MODEL,
                "model '" + id + "' is not loaded; GET /v1/models lists the available ids"));
    }

    private static final java.util.regex.Pattern MODEL_ID = java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,128}");

    public static boolean isModelId(String id) {
        return id != null && MODEL_ID.matcher(id).matches() && !id.equals(".") && !id.equals("..");
    }

    /** Turns exactly one of text/tokens into validated token ids for {@code model}. */
    public int[] tokens(LoadedModel model, String text, int[] tokens, String what, boolean allowEmpty) {
        if (text != null && tokens != null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "give either '" + what + "' text or '" + what + "_tokens'/'tokens', not both");
        }
        int[] ids = tokens != null ? tokens : text != null ? model.tokenizer().encode(text) : new int[0];
        if (ids.length == 0 && !allowEmpty) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "the document is empty: send non-empty 'text' or 'tokens'");
        }
        int vocab = model.model().vocabSize();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new EngramException(ProblemType.TOKEN_OUT_OF_RANGE,
                        "token " + i + " is " + ids[i] + "; model '" + model.id() + "' accepts ids 0.." + (vocab - 1));
            }
        }
        return ids;
    }

    /**
     * Primes a document for {@code tenant}. The tokens it makes the model read count against the tenant key's
     * tokens per minute, taken once validation has passed and only when the state is not stored already.
     */
    public Result prime(Tenant tenant, String modelId, String text, int[] tokenIds, String parent, Long ttlSeconds) {
        LoadedModel model = model(modelId);
        if (text == null && tokenIds == null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "give the document as 'text' or as 'tokens'");
        }
        int[] tokens = tokens(model, text, tokenIds, "text", false);
        int max = props.limits().maxDocumentTokens();
        if (tokens.length > max) {
            throw new EngramException(ProblemType.DOCUMENT_TOO_LONG, "the document has " + tokens.length
                    + " tokens; the limit is " + max + " (engram.limits.max-document-tokens): split it and chain the parts with 'parent'");
        }
        long ttl = ttl(ttlSeconds);
        StoredState parentState = null;
        if (parent != null) {
            parentState = load(tenant, parent);
            sameModel(model, parentState.meta());
        }
        String id = StateIds.primed(tenant.salt(), model.fingerprint(), parent, tokens);
        var existing = store.meta(id).filter(m -> tenant.owns(m.tenant()));
        if (existing.isPresent()) return new Result(existing.get(), false, 0);
        tenant.tokens().take(tokens.length);

        final StoredState from = parentState;
        return once(id, () -> {
            ModelState start = from == null ? model.model().zeroState() : from.state().copy();
            long t0 = System.nanoTime();
            var primed = Await.get(scheduler.prime(model.model(), model.id(), start, tokens, props.scheduler().requestTimeout()),
                    props.scheduler().requestTimeout());
            metrics.primed(model.id(), tokens.length, Duration.ofNanos(System.nanoTime() - t0));
            ModelState state = primed.state();
            long total = tokens.length + (from == null ? 0 : from.meta().totalTokens());
            StateMeta meta = meta(tenant, id, model, "primed", tokens.length, total, parent, state, ttl);
            store.put(new StoredState(meta, state, primed.logits()));
            return new Result(meta, true, primed.deviceMs());
        });
    }

    /**
     * Runs {@code compute} for {@code id} unless it is already stored or being computed: concurrent requests for
     * the same id compute it once, and the others wait for that result (with the request timeout) and answer as if
     * it had already existed. A failure is passed to every waiter.
     */
    private Result once(String id, Supplier<Result> compute) {
        CompletableFuture<Result> mine = new CompletableFuture<>();
        CompletableFuture<Result> running = inflight.putIfAbsent(id, mine);
        if (running != null) {
            // copy(): a waiter that times out cancels its copy, not the leader's computation
            Result r = Await.get(running.copy(), props.scheduler().requestTimeout());
            return new Result(r.meta(), false, 0);
        }
        try {
            var existing = store.meta(id); // it may have been finished by a flight that ended just before ours began
            Result r = existing.isPresent() ? new Result(existing.get(), false, 0) : compute.get();
            mine.complete(r);
            return r;
        } catch (RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            inflight.remove(id, mine);
        }
    }

    // ------------------------------------------------------------------------------------------ blobs

    /** The state in {@link StateCodec}'s binary format (which never names the tenant). */
    public byte[] exportBlob(Tenant tenant, String id) {
        StoredState s = load(tenant, id);
        LoadedModel model = model(s.meta().model());
        return StateCodec.encode(model.fingerprint(), s.state(), s.lastLogits());
    }

    /** The largest blob any loaded model can produce, plus room for framing: the import size limit. */
    public long maxBlobBytes() {
        long max = 0;
        for (LoadedModel m : models.all()) {
            max = Math.max(max, m.model().stateBytes() + 4L * m.model().vocabSize());
        }
        return max + 64 * 1024;
    }

    /**
     * Imports a blob made by {@link #exportBlob} (here or on another server with the same model files). Everything
     * is checked before a state is built; the id is the blob's SHA-256 (salted by the importing tenant, who owns the
     * state, when authentication is on), so an upload can never pose as a primed document (whose id hashes the model
     * fingerprint, parent and tokens), and two tenants importing the same blob get two states.
     */
    public Result importBlob(Tenant tenant, byte[] blob, Long ttlSeconds) {
        long ttl = ttl(ttlSeconds);
        if (blob.length > maxBlobBytes()) {
            throw new EngramException(ProblemType.BLOB_TOO_LARGE, "the blob has " + blob.length
                    + " bytes; no loaded model's state needs more than " + maxBlobBytes());
        }
        StateCodec.Decoded d;
        LoadedModel model;
        try {
            StateCodec.Blob parsed = StateCodec.parse(blob);
            model = models.all().stream().filter(m -> m.fingerprint().equals(parsed.fingerprint())).findFirst()
                    .orElseThrow(() -> StateBlobException.incompatible("the blob was made by the model with fingerprint "
                            + parsed.fingerprint() + ", which this server has not loaded (GET /v1/models lists the fingerprints)"));
            d = StateCodec.check(parsed, model.fingerprint(), model.model());
        } catch (StateBlobException e) {
            throw new EngramException(e.incompatible() ? ProblemType.INCOMPATIBLE_STATE_BLOB : ProblemType.INVALID_STATE_BLOB,
                    e.getMessage());
        }
        String id = StateIds.imported(tenant.salt(), blob);
        var existing = store.meta(id).filter(m -> tenant.owns(m.tenant()));
        if (existing.isPresent()) return new Result(existing.get(), false, 0);
        return once(id, () -> {
            long pos = d.state().position();
            StateMeta meta = meta(tenant, id, model, "imported", pos, pos, null, d.state(), ttl);
            store.put(new StoredState(meta, d.state(), d.lastLogits()));
            return new Result(meta, true, 0);
        });
    }

    /** The metadata of {@code tenant}'s state {@code id}; another tenant's is {@code unknown-state}, as a missing one. */
    public StateMeta meta(Tenant tenant, String id) {
        checkId(id);
        return store.meta(id).filter(m -> tenant.owns(m.tenant())).orElseThrow(() -> unknown(id));
    }

    public StoredState load(Tenant tenant, String id) {
        checkId(id);
        return store.get(id, m -> tenant.owns(m.tenant())).orElseThrow(() -> unknown(id));
    }

    /** Deletes {@code tenant}'s state; another tenant's is left alone and answered as a missing one. */
    public void delete(Tenant tenant, String id) {
        checkId(id);
        if (!store.delete(id, tenant.name())) throw unknown(id);
    }

    public Result combine(Tenant tenant, List<Ref> refs, Long ttlSeconds) {
        if (refs == null || refs.isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'states' must list at least one {\"id\", \"weight\"}");
        }
        long ttl = ttl(ttlSeconds);
        Start start = resolve(tenant, null, refs, false);
        var existing = store.meta(start.id()).filter(m -> tenant.owns(m.tenant()));
        if (existing.isPresent()) return new Result(existing.get(), false, start.loadMs());
        LoadedModel model = model(start.model());
        return once(start.id(), () -> {
            StateMeta meta = meta(tenant, start.id(), model, "combined", 0, start.tokens(), null, start.state(), ttl);
            store.put(new StoredState(meta, start.state(), start.lastLogits()));
            return new Result(meta, true, start.loadMs());
        });
    }

    /**
     * Resolves the states a generation starts from: none (the zero state of {@code modelId}), one, or the
     * weighted mean of several (the same function as {@code POST /v1/states/combine}). The result is a private
     * copy that the caller may advance.
     */
    public Start start(Tenant tenant, String modelId, List<Ref> refs) {
        return resolve(tenant, modelId, refs, true);
    }

    /**
     * The states of a composition that keeps them apart (compose {@code "mixture"} or {@code "posterior_mean"}):
     * private copies of each, their next-token logits (null entries where a state has none), the normalised prior
     * weights, and the id of their weighted mean under those weights (what {@code "mean"} would start from).
     */
    public record Components(String model, List<ModelState> states, List<float[]> lastLogits, List<String> ids,
                             double[] prior, String meanId, long tokens, double loadMs) {}

    /** Resolves {@code refs} as separate components, with the same checks as {@link #start}. */
    public Components components(Tenant tenant, String modelId, List<Ref> refs) {
        long t0 = System.nanoTime();
        if (refs == null || refs.isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "this 'compose' needs at least one entry in 'states'");
        }
        Loaded l = loadAll(tenant, modelId, refs);
        List<ModelState> states = new ArrayList<>();
        List<float[]> logits = new ArrayList<>();
        for (StoredState s : l.states()) {
            states.add(s.state().copy());
            logits.add(s.lastLogits() == null ? null : s.lastLogits().clone());
        }
        String id = StateIds.combined(tenant.salt(), l.model().fingerprint(), ids(refs).toArray(String[]::new), l.weights());
        return new Components(l.model().id(), states, logits, ids(refs), l.weights(), id, l.tokens(), ms(t0));
    }

    /** States of one request, loaded and checked: the same model, at most max-states, weights normalised. */
    private record Loaded(LoadedModel model, List<StoredState> states, double[] weights, long tokens) {}

    private Loaded loadAll(Tenant tenant, String modelId, List<Ref> refs) {
        int max = props.limits().maxStates();
        if (refs.size() > max) {
            throw new EngramException(ProblemType.LIMIT_EXCEEDED, refs.size() + " states given; at most " + max
                    + " may be combined (engram.limits.max-states)");
        }
        double[] w = normalisedWeights(refs);
        List<StoredState> loaded = new ArrayList<>();
        for (Ref r : refs) loaded.add(load(tenant, r.id()));
        LoadedModel model = model(modelId == null ? loaded.get(0).meta().model() : modelId);
        for (StoredState s : loaded) sameModel(model, s.meta());
        long tokens = 0;
        for (StoredState s : loaded) tokens = Math.max(tokens, s.meta().totalTokens());
        return new Loaded(model, loaded, w, tokens);
    }

    private Start resolve(Tenant tenant, String modelId, List<Ref> refs, boolean keepSingle) {
        long t0 = System.nanoTime();
        if (refs == null || refs.isEmpty()) {
            LoadedModel model = model(modelId);
            return new Start(model.id(), model.model().zeroState(), null, null, 0, 0);
        }
        Loaded l = loadAll(tenant, modelId, refs);
        LoadedModel model = l.model();
        List<StoredState> loaded = l.states();
        double[] w = l.weights();
        long tokens = l.tokens();
        if (loaded.size() == 1 && keepSingle) {
            StoredState s = loaded.get(0);
            return new Start(model.id(), s.state().copy(), s.lastLogits(), s.meta().id(), tokens, ms(t0));
        }
        List<ModelState> states = new ArrayList<>();
        for (StoredState s : loaded) states.add(s.state());
        long tCombine = System.nanoTime();
        ModelState mean = model.model().combine(states, w);
        float[] logits = meanLogits(loaded, w);
        metrics.combined(model.id(), Duration.ofNanos(System.nanoTime() - tCombine));
        String id = StateIds.combined(tenant.salt(), model.fingerprint(), ids(refs).toArray(String[]::new), w);
        return new Start(model.id(), mean, logits, id, tokens, ms(t0));
    }

    /** Weights must be finite and non-negative with a positive sum; they are normalised to sum 1. */
    static double[] normalisedWeights(List<Ref> refs) {
        double[] w = new double[refs.size()];
        double sum = 0;
        for (int i = 0; i < w.length; i++) {
            Ref r = refs.get(i);
            if (r == null || r.id() == null) {
                throw EngramException.field(ProblemType.INVALID_REQUEST, "states[" + i + "].id", "states[" + i + "] needs an 'id'");
            }
            w[i] = r.weight();
            if (!Double.isFinite(w[i]) || w[i] < 0) {
                throw EngramException.field(ProblemType.INVALID_REQUEST, "states[" + i + "].weight", "states[" + i + "].weight is " + w[i]
                        + "; weights must be finite and >= 0");
            }
            sum += w[i];
        }
        if (!(sum > 0)) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "the weights sum to 0; at least one must be positive");
        }
        for (int i = 0; i < w.length; i++) w[i] /= sum;
        return w;
    }

    /** The weighted mean of the components' next-token logits, when every component has them. */
    private static float[] meanLogits(List<StoredState> loaded, double[] w) {
        for (StoredState s : loaded) if (s.lastLogits() == null) return null;
        float[] out = new float[loaded.get(0).lastLogits().length];
        for (int i = 0; i < loaded.size(); i++) {
            float[] l = loaded.get(i).lastLogits();
            for (int j = 0; j < out.length; j++) out[j] += (float) (w[i] * l[j]);
        }
        return out;
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * The longest lifetime a state may ask for: ten years. Beyond it {@code Instant.plusSeconds} and the Redis
     * store's epoch milliseconds would overflow, so it is refused as bad input (400) rather than failing (500).
     */
    public static final long MAX_TTL_SECONDS = 10L * 365 * 24 * 3600;

    private long ttl(Long ttlSeconds) {
        if (ttlSeconds == null) return props.limits().defaultTtlSeconds();
        if (ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
            throw EngramException.field(ProblemType.INVALID_REQUEST, "ttl_seconds", "'ttl_seconds' is " + ttlSeconds
                    + "; it must be a number of seconds between 1 and " + MAX_TTL_SECONDS + " (ten years)");
        }
        return ttlSeconds;
    }

    StateMeta meta(Tenant tenant, String id, LoadedModel model, String kind, long tokens, long total, String parent,
                   ModelState s, long ttl) {
        Instant now = clock.instant();
        return new StateMeta(id, model.id(), kind, tokens, total, parent, s.byteSize(), now, now.plusSeconds(ttl),
                tenant.name());
    }

    private static void sameModel(LoadedModel model, StateMeta meta) {
        if (!meta.model().equals(model.id())) {
            throw new EngramException(ProblemType.MODEL_MISMATCH, "state " + meta.id() + " belongs to model '"
                    + meta.model() + "', not '" + model.id() + "'");
        }
    }

    private static void checkId(String id) {
        if (!StateIds.isValid(id)) {
            throw new EngramException(ProblemType.UNKNOWN_STATE, "'" + (id != null && id.length() > 80 ? id.substring(0, 80) + "..." : id)
                    + "' is not a state id (64 lowercase hex characters)");
        }
    }

    private static EngramException unknown(String id) {
        return new EngramException(ProblemType.UNKNOWN_STATE, "state " + id + " does not exist (it may have expired or been deleted)");
    }

    private static List<String> ids(List<Ref> refs) {
        List<String> out = new ArrayList<>();
        for (Ref r : refs) out.add(r.id());
        return out;
    }
}
