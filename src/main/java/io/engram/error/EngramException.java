package io.engram.error;

/** A failure that becomes a problem-details answer: its type fixes the status, its message is the detail. */
public class EngramException extends RuntimeException {

    private final ProblemType type;
    private final Long retryAfterSeconds;

    public EngramException(ProblemType type, String detail) {
        this(type, detail, null);
    }

    public EngramException(ProblemType type, String detail, Long retryAfterSeconds) {
        super(detail);
        this.type = type;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public ProblemType type() {
        return type;
    }

    /** For 429/503: how long the client should wait before retrying. */
    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
