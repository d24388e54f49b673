package io.engram.state;

import java.time.Instant;

/**
 * What is known about a stored state without reading its tensors.
 *
 * @param tokens      tokens read by this state itself (for a combined state: 0)
 * @param totalTokens tokens read including its parents (for a combined state: the largest of its components)
 * @param kind        {@code primed}, {@code combined}, {@code generated} or {@code imported}
 */
public record StateMeta(String id, String model, String kind, long tokens, long totalTokens, String parent,
                        long bytes, Instant createdAt, Instant expiresAt) {

    public boolean expired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }
}
