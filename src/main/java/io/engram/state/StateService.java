package io.engram.state;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LoadedModel;
import io.engram.model.Memory;
import io.engram.model.ModelRegistry;
import io.engram.model.ModelState;
import io.engram.scheduler.Await;
import io.engram.scheduler.DeviceScheduler;
import io.engram.tenant.Tenant;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.springframework.stereotype.Service;

/**
 * The repository of memory states: priming, importing and exporting blobs, reading, deleting and saving states,
 * each for a tenant, with lifetimes and single flight. Model work (priming) goes through the
 * {@link DeviceScheduler}; validation happens first, so bad input never reaches the model or the store. Composing
 * states is {@link StateMixer}'s.
 *
 * <p>Every verb acts for a {@link Tenant}: ids are salted by it (when authentication is on) and a state is visible
 * only to the tenant recorded in its metadata. Another tenant's state is answered exactly as a missing one
 * ({@code 404 unknown-state}, same detail), so nothing tells a tenant whether someone else holds a document.
 */
@Service
public class StateService {

    /**
     * The longest lifetime a state may ask for: ten years. Beyond it {@code Instant.plusSeconds} and the Redis
     * store's epoch milliseconds would overflow, so it is refused as bad input (400) rather than failing (500).
     */
    public static final long MAX_TTL_SECONDS = 10L * 365 * 24 * 3600;

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

    /** Outcome of a prime, combine, import or save: the metadata, whether it was new, and the model time it took. */
    public record Result(StateMeta meta, boolean created, double computeMs) {}

    /**
     * Primes a document for {@code tenant}. The tokens it makes the model read count against the tenant key's
     * tokens per minute, taken once validation has passed and only when the state is not stored already.
     */
    public Result prime(Tenant tenant, String modelId, String text, int[] tokenIds, String parent, Long ttlSeconds) {
        LoadedModel model = models.require(modelId);
        if (text == null && tokenIds == null) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "give the document as 'text' or as 'tokens'");
        }
        int[] tokens = model.tokens(text, tokenIds, "text", false);
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
        var existing = find(tenant, id);
        if (existing.isPresent()) return new Result(existing.get(), false, 0);
        tenant.tokens().take(tokens.length);

        final StoredState from = parentState;
        return once(id, () -> {
            ModelState start = from == null ? model.model().zeroState() : from.state().copy();
            long t0 = System.nanoTime();
            var primed = Await.get(scheduler.prime(model.model(), model.id(), start, tokens, props.scheduler().requestTimeout()),
                    props.scheduler().requestTimeout());
            metrics.primed(model.id(), tokens.length, Duration.ofNanos(System.nanoTime() - t0));
            long total = tokens.length + (from == null ? 0 : from.meta().totalTokens());
            Memory memory = new Memory(primed.state(), primed.logits());
            StateMeta meta = meta(tenant, id, model, "primed", tokens.length, total, parent, memory.state(), ttl);
            store.put(new StoredState(meta, memory));
            return new Result(meta, true, primed.deviceMs());
        });
    }

    /**
     * Stores {@code memory} as {@code tenant}'s state {@code id} (a combined state, or one saved by a generation),
     * unless it is stored already or being stored right now (single flight).
     *
     * @param kind   {@code combined}, {@code generated} or {@code mixture} (see {@link StateMeta#kind()})
     * @param tokens the tokens this state read beyond {@code parent}; {@code total} counts from the zero state
     * @param ttl    seconds, already checked by {@link #ttl(Long)}
     */
    public Result save(Tenant tenant, String id, LoadedModel model, String kind, Memory memory, long tokens, long total,
                       String parent, long ttl) {
        return once(id, () -> {
            StateMeta meta = meta(tenant, id, model, kind, tokens, total, parent, memory.state(), ttl);
            store.put(new StoredState(meta, memory));
            return new Result(meta, true, 0);
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
        LoadedModel model = models.require(s.meta().model());
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

    /** Refuses a blob of {@code bytes} (declared or read) over {@link #maxBlobBytes()}: 413 blob-too-large. */
    public void checkBlobSize(long bytes) {
        long max = maxBlobBytes();
        if (bytes > max) {
            throw new EngramException(ProblemType.BLOB_TOO_LARGE, "the blob has more than " + max
                    + " bytes; no loaded model's state needs more than " + max);
        }
    }

    /**
     * Imports a blob made by {@link #exportBlob} (here or on another server with the same model files), whose
     * size the caller has checked with {@link #checkBlobSize}. Everything else is checked before a state is built;
     * the id is the blob's SHA-256 (salted by the importing tenant, who owns the state, when authentication is on),
     * so an upload can never pose as a primed document (whose id hashes the model fingerprint, parent and tokens),
     * and two tenants importing the same blob get two states.
     */
    public Result importBlob(Tenant tenant, byte[] blob, Long ttlSeconds) {
        if (blob.length > maxBlobBytes()) throw new IllegalArgumentException("importBlob: the caller must check the size first");
        long ttl = ttl(ttlSeconds);
        StateCodec.Decoded d;
        LoadedModel model;
        try {
            StateCodec.Blob parsed = StateCodec.parse(blob);
            model = models.byFingerprint(parsed.fingerprint())
                    .orElseThrow(() -> StateBlobException.incompatible("the blob was made by the model with fingerprint "
                            + parsed.fingerprint() + ", which this server has not loaded (GET /v1/models lists the fingerprints)"));
            d = StateCodec.check(parsed, model.fingerprint(), model.model());
        } catch (StateBlobException e) {
            throw new EngramException(e.incompatible() ? ProblemType.INCOMPATIBLE_STATE_BLOB : ProblemType.INVALID_STATE_BLOB,
                    e.getMessage());
        }
        String id = StateIds.imported(tenant.salt(), blob);
        var existing = find(tenant, id);
        if (existing.isPresent()) return new Result(existing.get(), false, 0);
        long pos = d.state().position();
        return save(tenant, id, model, "imported", new Memory(d.state(), d.lastLogits()), pos, pos, null, ttl);
    }

    // ------------------------------------------------------------------------------------------ reading

    /** The metadata of {@code tenant}'s state {@code id}; another tenant's is {@code unknown-state}, as a missing one. */
    public StateMeta meta(Tenant tenant, String id) {
        checkId(id);
        return find(tenant, id).orElseThrow(() -> unknown(id));
    }

    /** The metadata of {@code tenant}'s state {@code id}, if it exists (no check of the id's syntax). */
    Optional<StateMeta> find(Tenant tenant, String id) {
        return store.meta(id).filter(m -> tenant.owns(m.tenant()));
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

    /** A request's {@code ttl_seconds} (null: {@code engram.limits.default-ttl-seconds}), checked. */
    public long ttl(Long ttlSeconds) {
        if (ttlSeconds == null) return props.limits().defaultTtlSeconds();
        if (ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
            throw EngramException.field(ProblemType.INVALID_REQUEST, "ttl_seconds", "'ttl_seconds' is " + ttlSeconds
                    + "; it must be a number of seconds between 1 and " + MAX_TTL_SECONDS + " (ten years)");
        }
        return ttlSeconds;
    }

    private StateMeta meta(Tenant tenant, String id, LoadedModel model, String kind, long tokens, long total, String parent,
                           ModelState s, long ttl) {
        Instant now = clock.instant();
        return new StateMeta(id, model.id(), kind, tokens, total, parent, s.byteSize(), now, now.plusSeconds(ttl),
                tenant.name());
    }

    static void sameModel(LoadedModel model, StateMeta meta) {
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
}
