package io.engram.tenant;

import java.util.Objects;

/**
 * Who a request acts for: the tenant of its API key. It travels explicitly from the controllers into the services
 * (no thread-locals), and it decides two things there:
 * <ul>
 *   <li>the salt of state ids: with authentication on, every id hashes the tenant's name, so the same document
 *       primed by two tenants gets two ids (and one tenant cannot confirm that another primed a document);</li>
 *   <li>ownership: a state records the tenant that made it, and any other tenant is told it does not exist.</li>
 * </ul>
 * With authentication off there is one tenant, {@link #DEFAULT}, whose ids are unsalted: today's ids.
 */
public final class Tenant {

    public static final String DEFAULT_NAME = "default";

    /** Authentication off: everyone, unsalted ids, no limits. */
    public static final Tenant DEFAULT = new Tenant(DEFAULT_NAME, false, TokenMeter.UNLIMITED);

    private final String name;
    private final boolean salted;
    private final TokenMeter tokens;

    public Tenant(String name, boolean salted, TokenMeter tokens) {
        this.name = Objects.requireNonNull(name);
        this.salted = salted;
        this.tokens = Objects.requireNonNull(tokens);
    }

    /** An authenticated tenant: salted ids. */
    public static Tenant authenticated(String name, TokenMeter tokens) {
        return new Tenant(name, true, tokens);
    }

    public String name() {
        return name;
    }

    /** What state ids are salted with: the name, or null (unsalted, authentication off). */
    public String salt() {
        return salted ? name : null;
    }

    /** The tokens-per-minute budget of the key this request came with. */
    public TokenMeter tokens() {
        return tokens;
    }

    /** Whether this tenant may see the state: it made it (states from before tenants belong to {@code default}). */
    public boolean owns(String owner) {
        return name.equals(owner);
    }

    @Override
    public String toString() {
        return name;
    }
}
