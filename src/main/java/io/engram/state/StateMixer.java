package io.engram.state;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LoadedModel;
import io.engram.model.Memory;
import io.engram.model.ModelRegistry;
import io.engram.tenant.Tenant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.stereotype.Service;

/**
 * Composing stored states: the weighted mean of {@code POST /v1/states/combine} and of generation's {@code states},
 * and the separate components that compose {@code "mixture"} and {@code "posterior_mean"} keep apart. The states
 * are read through {@link StateService} (so a tenant only ever composes its own); the maths of the mean is
 * {@link Memory#mean}, the same for every caller.
 */
@Service
public class StateMixer {

    private final StateService states;
    private final ModelRegistry models;
    private final EngramProperties props;
    private final EngramMetrics metrics;

    public StateMixer(StateService states, ModelRegistry models, EngramProperties props, EngramMetrics metrics) {
        this.states = states;
        this.models = models;
        this.props = props;
        this.metrics = metrics;
    }

    /** A weighted reference to a stored state. */
    public record Ref(String id, double weight) {}

    /**
     * The starting point of a generation: a private copy of the (combined) memory and where it came from.
     *
     * @param id     the stored (or combined) state's id, null for the zero state
     * @param tokens the most tokens any of its states has read
     */
    public record Start(LoadedModel model, Memory memory, String id, long tokens, double loadMs) {}

    /**
     * The states of a composition that keeps them apart: private copies of each (their logits may be null), the
     * normalised prior weights, and the id of their weighted mean under those weights (what "mean" would start from).
     */
    public record Components(LoadedModel model, List<Memory> memories, List<String> ids, double[] prior, String meanId,
                             long tokens, double loadMs) {

        /** Whether every component has next-token logits. */
        public boolean haveLogits() {
            return memories.stream().allMatch(m -> m.logits() != null);
        }
    }

    /** {@code POST /v1/states/combine}: stores the weighted mean of {@code refs} as a state of kind {@code combined}. */
    public StateService.Result combine(Tenant tenant, List<Ref> refs, Long ttlSeconds) {
        if (refs == null || refs.isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "'states' must list at least one {\"id\", \"weight\"}");
        }
        long ttl = states.ttl(ttlSeconds);
        Start start = resolve(tenant, null, refs, false);
        var existing = states.find(tenant, start.id());
        if (existing.isPresent()) return new StateService.Result(existing.get(), false, start.loadMs());
        StateService.Result r = states.save(tenant, start.id(), start.model(), "combined", start.memory(), 0,
                start.tokens(), null, ttl);
        return new StateService.Result(r.meta(), r.created(), start.loadMs());
    }

    /**
     * Resolves the states a generation starts from: none (the zero state of {@code modelId}), one, or the
     * weighted mean of several (the same function as {@link #combine}). The result is a private copy that the
     * caller may advance.
     */
    public Start start(Tenant tenant, String modelId, List<Ref> refs) {
        return resolve(tenant, modelId, refs, true);
    }

    /** Resolves {@code refs} as separate components, with the same checks as {@link #start}. */
    public Components components(Tenant tenant, String modelId, List<Ref> refs) {
        long t0 = System.nanoTime();
        if (refs == null || refs.isEmpty()) {
            throw new EngramException(ProblemType.INVALID_REQUEST, "this 'compose' needs at least one entry in 'states'");
        }
        Loaded l = loadAll(tenant, modelId, refs);
        List<Memory> memories = new ArrayList<>();
        for (StoredState s : l.states()) memories.add(s.memory().copy());
        String id = StateIds.combined(tenant.salt(), l.model().fingerprint(), ids(refs).toArray(String[]::new), l.weights());
        return new Components(l.model(), memories, ids(refs), l.weights(), id, l.tokens(), ms(t0));
    }

    /** The components' weighted mean under {@code w} (compose posterior_mean, once the prompt was scored). */
    public Start mean(Tenant tenant, Components c, double[] w) {
        Memory mean = Memory.mean(c.model().model(), c.memories(), w);
        String id = StateIds.combined(tenant.salt(), c.model().fingerprint(), c.ids().toArray(String[]::new), w);
        return new Start(c.model(), mean, id, c.tokens(), c.loadMs());
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
        for (Ref r : refs) loaded.add(states.load(tenant, r.id()));
        LoadedModel model = models.require(modelId == null ? loaded.get(0).meta().model() : modelId);
        for (StoredState s : loaded) StateService.sameModel(model, s.meta());
        long tokens = 0;
        for (StoredState s : loaded) tokens = Math.max(tokens, s.meta().totalTokens());
        return new Loaded(model, loaded, w, tokens);
    }

    private Start resolve(Tenant tenant, String modelId, List<Ref> refs, boolean keepSingle) {
        long t0 = System.nanoTime();
        if (refs == null || refs.isEmpty()) {
            LoadedModel model = models.require(modelId);
            return new Start(model, new Memory(model.model().zeroState(), null), null, 0, 0);
        }
        Loaded l = loadAll(tenant, modelId, refs);
        if (l.states().size() == 1 && keepSingle) {
            StoredState s = l.states().get(0);
            // the logits are only read, never advanced in place: no copy
            return new Start(l.model(), new Memory(s.state().copy(), s.lastLogits()), s.meta().id(), l.tokens(), ms(t0));
        }
        List<Memory> parts = new ArrayList<>();
        for (StoredState s : l.states()) parts.add(s.memory());
        long tCombine = System.nanoTime();
        Memory mean = Memory.mean(l.model().model(), parts, l.weights());
        metrics.combined(l.model().id(), Duration.ofNanos(System.nanoTime() - tCombine));
        String id = StateIds.combined(tenant.salt(), l.model().fingerprint(), ids(refs).toArray(String[]::new), l.weights());
        return new Start(l.model(), mean, id, l.tokens(), ms(t0));
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

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static List<String> ids(List<Ref> refs) {
        List<String> out = new ArrayList<>();
        for (Ref r : refs) out.add(r.id());
        return out;
    }
}
