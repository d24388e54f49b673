package io.engram.error;

import java.net.URI;

/**
 * The stable problem types Engram answers with (RFC 9457 {@code type}). Clients may switch on the URI; the
 * {@code detail} text is for humans and says what to fix.
 */
public enum ProblemType {
    INVALID_REQUEST("invalid-request", 400, "The request is invalid"),
    UNAUTHORIZED("unauthorized", 401, "A valid API key is required"),
    RATE_LIMITED("rate-limited", 429, "Rate limit exceeded"),
    BODY_TOO_LARGE("body-too-large", 413, "The request body is too large"),
    MALFORMED_JSON("malformed-json", 400, "The request body is not valid JSON"),
    UNKNOWN_MODEL("unknown-model", 404, "No such model"),
    UNKNOWN_STATE("unknown-state", 404, "No such state"),
    MODEL_MISMATCH("model-mismatch", 409, "The states belong to different models"),
    TOKEN_OUT_OF_RANGE("token-out-of-range", 400, "A token id is outside the model's vocabulary"),
    DOCUMENT_TOO_LONG("document-too-long", 413, "The document has too many tokens"),
    LIMIT_EXCEEDED("limit-exceeded", 400, "A request limit was exceeded"),
    OVERLOADED("overloaded", 429, "The server is busy"),
    TIMEOUT("timeout", 503, "The request timed out"),
    UNAVAILABLE("unavailable", 503, "The service is unavailable"),
    NOT_FOUND("not-found", 404, "No such endpoint"),
    METHOD_NOT_ALLOWED("method-not-allowed", 405, "Method not allowed"),
    UNSUPPORTED_MEDIA_TYPE("unsupported-media-type", 415, "Unsupported media type"),
    NOT_ACCEPTABLE("not-acceptable", 406, "No acceptable representation"),
    INVALID_STATE_BLOB("invalid-state-blob", 400, "The state blob is malformed"),
    INCOMPATIBLE_STATE_BLOB("incompatible-state-blob", 422, "The state blob does not fit a loaded model"),
    STATE_TOO_LARGE("state-too-large", 413, "The state is too large for the store"),
    BLOB_TOO_LARGE("blob-too-large", 413, "The state blob is too large"),
    STORE_UNAVAILABLE("store-unavailable", 503, "The state store is unavailable"),
    INTERNAL("internal", 500, "Internal error");

    public static final String BASE = "https://engram.dev/problems/";

    private final String slug;
    private final int status;
    private final String title;

    ProblemType(String slug, int status, String title) {
        this.slug = slug;
        this.status = status;
        this.title = title;
    }

    public URI uri() {
        return URI.create(BASE + slug);
    }

    public int status() {
        return status;
    }

    public String title() {
        return title;
    }
}
