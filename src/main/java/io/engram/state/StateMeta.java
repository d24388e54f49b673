package io.engram.state;

import java.time.Instant;

/**
 * What is known about a stored state without reading its tensors.
 *
 * @param tokens      tokens read by this state itself (for a combined state: 0)
 * @param totalTokens tokens read including its parents (for a combined state: the largest of its components)
 * @param kind        {@code primed}, {@code combined}, {@code generated} or {@code imported}
 * @param tenant      the tenant that made it, the only one that may use it ({@code default} with authentication
 *                    off, and for states stored before tenants existed). Store metadata only: never in a blob.
 */
public record StateMeta(String id, String model, String kind, long tokens, long totalTokens, String parent,
                        long bytes, Instant createdAt, Instant expiresAt, String tenant) {

    public StateMeta {
        if (tenant == null) tenant = io.engram.tenant.Tenant.DEFAULT_NAME;
    }

    /** A state of tenant {@code default} (tools and tests; the services always name the tenant). */
    public StateMeta(String id, String model, String kind, long tokens, long totalTokens, String parent, long bytes,
                     Instant createdAt, Instant expiresAt) {
        this(id, model, kind, tokens, totalTokens, parent, bytes, createdAt, expiresAt, null);
    }

    public boolean expired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }
}
