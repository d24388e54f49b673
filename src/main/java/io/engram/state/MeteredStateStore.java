package io.engram.state;

import io.engram.metrics.EngramMetrics;
import io.engram.metrics.MetricsConfig;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.springframework.beans.factory.DisposableBean;

/**
 * Times every call of a {@link StateStore} ({@code engram_state_store_operations_seconds} by operation and outcome)
 * and counts state loads as cache lookups of the store's tier: {@code local} for the in-process store,
 * {@code redis} for Redis. Applied to the {@code StateStore} bean by {@link MetricsConfig}, so every store is
 * measured the same way without knowing about metrics. Closing is passed on: a store that is a
 * {@link DisposableBean} or {@link AutoCloseable} is still closed with the context.
 */
public final class MeteredStateStore implements StateStore, DisposableBean {

    private final StateStore delegate;
    private final Supplier<EngramMetrics> metrics;
    private final String store;
    private final String tier;

    public MeteredStateStore(StateStore delegate, Supplier<EngramMetrics> metrics) {
        this.delegate = delegate;
        this.metrics = metrics;
        this.store = delegate.kind();
        this.tier = tierOf(store);
    }

    /** The cache tier a store kind stands for. */
    public static String tierOf(String kind) {
        return kind.equals("memory") ? "local" : kind;
    }

    public StateStore delegate() {
        return delegate;
    }

    @Override
    public Optional<StoredState> get(String id) {
        long t0 = System.nanoTime();
        try {
            Optional<StoredState> s = delegate.get(id);
            record("get", s.isPresent() ? "ok" : "miss", t0);
            metrics.get().cacheLookup(tier, s.isPresent());
            return s;
        } catch (RuntimeException | Error e) {
            record("get", "error", t0);
            throw e;
        }
    }

    /** As {@link #get(String)}: another tenant's state counts as a miss (its blob is never read). */
    @Override
    public Optional<StoredState> get(String id, java.util.function.Predicate<StateMeta> visible) {
        long t0 = System.nanoTime();
        try {
            Optional<StoredState> s = delegate.get(id, visible);
            record("get", s.isPresent() ? "ok" : "miss", t0);
            metrics.get().cacheLookup(tier, s.isPresent());
            return s;
        } catch (RuntimeException | Error e) {
            record("get", "error", t0);
            throw e;
        }
    }

    @Override
    public Optional<StateMeta> meta(String id) {
        long t0 = System.nanoTime();
        try {
            Optional<StateMeta> m = delegate.meta(id);
            record("meta", m.isPresent() ? "ok" : "miss", t0);
            return m;
        } catch (RuntimeException | Error e) {
            record("meta", "error", t0);
            throw e;
        }
    }

    @Override
    public void put(StoredState state) {
        long t0 = System.nanoTime();
        try {
            delegate.put(state);
            record("put", "ok", t0);
        } catch (RuntimeException | Error e) {
            record("put", "error", t0);
            throw e;
        }
    }

    @Override
    public boolean delete(String id) {
        long t0 = System.nanoTime();
        try {
            boolean deleted = delegate.delete(id);
            record("delete", deleted ? "ok" : "miss", t0);
            return deleted;
        } catch (RuntimeException | Error e) {
            record("delete", "error", t0);
            throw e;
        }
    }

    @Override
    public boolean delete(String id, String tenant) {
        long t0 = System.nanoTime();
        try {
            boolean deleted = delegate.delete(id, tenant);
            record("delete", deleted ? "ok" : "miss", t0);
            return deleted;
        } catch (RuntimeException | Error e) {
            record("delete", "error", t0);
            throw e;
        }
    }

    @Override
    public void ping() {
        long t0 = System.nanoTime();
        try {
            delegate.ping();
            record("ping", "ok", t0);
        } catch (RuntimeException | Error e) {
            record("ping", "error", t0);
            throw e;
        }
    }

    @Override
    public java.util.Map<String, Object> details() {
        return delegate.details();
    }

    @Override
    public String kind() {
        return delegate.kind();
    }

    @Override
    public long bytesStored() {
        return delegate.bytesStored();
    }

    @Override
    public void destroy() throws Exception {
        if (delegate instanceof DisposableBean d) d.destroy();
        else if (delegate instanceof AutoCloseable c) c.close();
    }

    private void record(String operation, String outcome, long t0) {
        metrics.get().storeOp(store, operation, outcome, Duration.ofNanos(System.nanoTime() - t0));
    }
}
