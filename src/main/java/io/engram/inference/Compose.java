package io.engram.inference;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.scheduler.Mixture;

/**
 * How a generation composes several {@code states} (the request field {@code compose}, shared/spec/api.md).
 * {@link #MEAN} is the default and exactly the behaviour without the field.
 */
public enum Compose {
    /** The weighted mean of the states under the given weights (as {@code /v1/states/combine}). */
    MEAN("mean"),
    /** The weighted mean under the posterior weights, prior weight x p(prompt | state_i); decoded as one row. */
    POSTERIOR_MEAN("posterior_mean"),
    /** Every state decoded as its own row; each token drawn from their posterior-weighted mixture ({@link Mixture}). */
    MIXTURE("mixture");

    private final String wire;

    Compose(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }

    /** Null (absent) is {@link #MEAN}; an unknown value is a 400 that names the field and the values. */
    public static Compose parse(String value) {
        if (value == null) return MEAN;
        for (Compose c : values()) if (c.wire.equals(value)) return c;
        throw new EngramException(ProblemType.INVALID_REQUEST, "'compose' is \"" + (value.length() > 40 ? value.substring(0, 40) + "..." : value)
                + "\"; it must be one of \"mean\" (the default), \"posterior_mean\", \"mixture\"");
    }
}
