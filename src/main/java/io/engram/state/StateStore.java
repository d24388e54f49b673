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

    /** Metadata only (never moves the tensors). */
    Optional<StateMeta> meta(String id);

    void put(StoredState state);

    /** @return whether something was deleted */
    boolean delete(String id);

    /** {@code memory} or {@code redis}: a metrics tag. */
    String kind();

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
