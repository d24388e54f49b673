package io.engram.state;

import java.util.Optional;

/**
 * Where primed states live. A store that cannot be reached throws {@link io.engram.error.EngramException} of type
 * {@code store-unavailable} (503 with Retry-After) from any method.
 * Implementations are thread-safe; values handed out are never mutated by the store,
 * and callers copy a state before advancing it.
 */
public interface StateStore {

    /** The state, or empty when unknown or expired. */
    Optional<StoredState> get(String id);

    /**
     * The state if it exists and {@code visible} accepts its metadata (the caller's tenant owns it). A store that
     * reads metadata first checks it before moving the tensors, so a state of another tenant costs what a missing
     * one does.
     */
    default Optional<StoredState> get(String id, java.util.function.Predicate<StateMeta> visible) {
        return get(id).filter(s -> visible.test(s.meta()));
    }

    /** Metadata only (never moves the tensors). */
    Optional<StateMeta> meta(String id);

    void put(StoredState state);

    /** @return whether something was deleted */
    boolean delete(String id);

    /**
     * Deletes the state only if {@code tenant} owns it (states without a recorded tenant belong to {@code default}).
     * Another tenant's state is left alone and reported as not deleted, exactly like a missing one. Stores do the
     * check and the delete in one step where they can (Redis: one script), so both cases cost the same.
     *
     * @return whether something was deleted
     */
    default boolean delete(String id, String tenant) {
        Optional<StateMeta> m = meta(id);
        if (m.isPresent() && !m.get().tenant().equals(tenant)) return false;
        return delete(id);
    }

    /** {@code memory} or {@code redis}: a metrics tag. */
    String kind();

    /** Bytes of state held now, or -1 when the store cannot tell cheaply (exported as a gauge). */
    default long bytesStored() {
        return -1;
    }

    /**
     * Checks that the store can serve requests now (readiness).
     *
     * @throws io.engram.error.EngramException {@code store-unavailable} when it cannot
     */
    default void ping() {}

    /** Figures for the health endpoint (sizes, cache hits). */
    default java.util.Map<String, Object> details() {
        return java.util.Map.of();
    }
}
