package io.engram.error;

/** A failure that becomes a problem-details answer: its type fixes the status, its message is the detail. */
public class EngramException extends RuntimeException {

    private final ProblemType type;
    private final Long retryAfterSeconds;
    private final String field;

    public EngramException(ProblemType type, String detail) {
        this(type, detail, null);
    }

    public EngramException(ProblemType type, String detail, Long retryAfterSeconds) {
        this(type, detail, retryAfterSeconds, null);
    }

    private EngramException(ProblemType type, String detail, Long retryAfterSeconds, String field) {
        super(detail);
        this.type = type;
        this.retryAfterSeconds = retryAfterSeconds;
        this.field = field;
    }

    /**
     * A field validation failure: the problem details carry {@code errors: [{"field", "pointer", "detail"}]}
     * naming the request field (its JSON name, e.g. {@code ttl_seconds} or {@code states[1].weight}).
     */
    public static EngramException field(ProblemType type, String field, String detail) {
        return new EngramException(type, detail, null, field);
    }

    /** The request field that failed validation, or null. */
    public String field() {
        return field;
    }

    public ProblemType type() {
        return type;
    }

    /** For 429/503: how long the client should wait before retrying. */
    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
