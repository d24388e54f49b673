package io.engram.config;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Deployment settings ({@code engram.*} in application.yml, or {@code ENGRAM_*} environment variables).
 * Model hyperparameters are not here: they come from each checkpoint.
 */
@Validated
@ConfigurationProperties("engram")
public record EngramProperties(
        /** Folder holding one sub-folder per model; the sub-folder's name is the model id. */
        @NotNull @DefaultValue("models") Path modelsDir,
        /** Model used when a request names none; empty = the only model, or the first by name. */
        @DefaultValue("") String defaultModel,
        /** {@code auto}, {@code cpu}, {@code cuda} or {@code cuda:N}. */
        @NotNull @Pattern(regexp = "auto|cpu|cuda(:\\d+)?", message = "must be auto, cpu, cuda or cuda:N")
        @DefaultValue("auto") String device,
        /** {@code memory} (embedded, per process) or {@code redis}. */
        @NotNull @Pattern(regexp = "memory|redis", message = "must be memory or redis")
        @DefaultValue("memory") String store,
        @Valid @NotNull @DefaultValue Limits limits,
        @Valid @NotNull @DefaultValue Scheduler scheduler,
        @Valid @NotNull @DefaultValue Memory memory,
        @Valid @NotNull @DefaultValue Retnet retnet,
        @Valid @NotNull @DefaultValue Redis redis,
        @Valid @NotNull @DefaultValue Demo demo,
        @Valid @NotNull @DefaultValue Security security,
        /** Served weight format for every model ({@code float32}, {@code bfloat16}, {@code int8}); empty = each
         *  model's config.json {@code serve_dtype}, else float32. */
        @NotNull @Pattern(regexp = "|float32|bfloat16|int8", message = "must be float32, bfloat16 or int8")
        @DefaultValue("") String serveDtype,
        /** Where RWKV-7's served weights live on the CPU: {@code heap} (Java arrays, fastest decode on JDK 17),
         *  {@code native} (off the heap, for models larger than it) or {@code auto}: native when the served
         *  weights would take more than 40% of the maximum heap. */
        @NotNull @Pattern(regexp = "auto|heap|native", message = "must be auto, heap or native")
        @DefaultValue("auto") String weightsMemory,
        /** Per-model settings, by model id ({@code engram.models.<id>.serve-dtype}); they win over the global ones. */
        java.util.Map<String, @Valid ModelSettings> models) {

    public EngramProperties {
        var m = new java.util.HashMap<String, ModelSettings>(models == null ? java.util.Map.of() : models);
        // The images set ENGRAM_MODELS_DIR (engram.models-dir); relaxed binding also reads it as engram.models.dir,
        // a "model" named dir whose serve dtype is the folder's path. That entry is the env var, not a model setting.
        ModelSettings dir = m.get("dir");
        if (dir != null && dir.serveDtype() != null && !dir.serveDtype().matches("|float32|bfloat16|int8")) m.remove("dir");
        models = java.util.Map.copyOf(m);
    }

    /** One model's overrides. */
    public record ModelSettings(
            /** Served weight format of this model; empty = engram.serve-dtype, else its config.json. */
            @Pattern(regexp = "|float32|bfloat16|int8", message = "must be float32, bfloat16 or int8")
            String serveDtype) {}

    /** Request limits: each is answered with a problem-details 4xx naming the limit. */
    public record Limits(
            @Min(1) @DefaultValue("1000000") int maxDocumentTokens,
            @Min(1) @DefaultValue("4096") int maxTokens,
            @Min(1) @DefaultValue("64") int maxStates,
            @Min(1) @DefaultValue("86400") long defaultTtlSeconds,
            /** Bytes of a JSON request body (blob imports have their own limit: the largest state a model makes). */
            @Min(1024) @DefaultValue("16777216") long maxBodyBytes,
            /** Nesting depth of JSON arrays and objects in a request body. */
            @Min(4) @Max(1000) @DefaultValue("32") int maxJsonDepth,
            /** Stop strings of one generation (including a chat template's own). */
            @Min(0) @DefaultValue("16") int maxStopStrings,
            /** Characters of one stop string. */
            @Min(1) @DefaultValue("256") int maxStopLength,
            /** Documents of one {@code POST /v1/states/batch}. */
            @Min(1) @DefaultValue("256") int maxBatchDocuments) {}

    /** The per-device scheduler that owns the model. */
    public record Scheduler(
            /** Requests waiting beyond this are refused with 429 and Retry-After. */
            @Min(1) @DefaultValue("256") int maxQueued,
            /** Sequences advanced together; more wait in the queue. */
            @Min(1) @DefaultValue("64") int maxRunning,
            @NotNull @DefaultValue("5m") Duration requestTimeout,
            /** Tokens per batched chunk when reading documents and prompts. */
            @Min(1) @Max(65536) @DefaultValue("256") int chunkTokens,
            /** On the CPU, run models through their Java kernels: decode streams the weights with the Vector API,
             *  priming keeps only its batched products in DJL. Off: every operation is a DJL operation. */
            @DefaultValue("true") boolean cpuDecodeKernels) {}

    /** RetNet models. */
    public record Retnet(
            /** Tokens per chunk of the chunkwise paradigm used to read documents; 0 = each model's recurrent_chunk_size. */
            @Min(0) @Max(65536) @DefaultValue("0") int chunkSize) {}

    /** The embedded in-memory state store. */
    public record Memory(@Min(1) @DefaultValue("1073741824") long maxBytes) {}

    /**
     * The Redis state store ({@code engram.store=redis}); the connection itself is Spring's
     * {@code spring.data.redis.*} (url, host, port, password, ssl, timeout).
     */
    public record Redis(
            /** Prefix of every key Engram writes, so several deployments (or tests) can share one Redis. */
            @NotNull @DefaultValue("engram:") String keyPrefix,
            /** Bytes of decoded states kept in this process in front of Redis (read-through cache); 0 disables it. */
            @Min(0) @DefaultValue("268435456") long cacheMaxBytes,
            /** The Retry-After (seconds) sent with 503 store-unavailable. */
            @Min(1) @DefaultValue("2") long retryAfterSeconds) {}

    /** The random-weight demo model written into {@code models/demo} when the models folder is empty. */
    public record Demo(@DefaultValue("true") boolean enabled) {}

    /**
     * Authentication, tenants, rate limits, CORS and access logs ({@code io.engram.security}).
     *
     * @param apiKeys     comma-separated {@code tenant:key} pairs; empty (with no file) = authentication off
     * @param apiKeysFile a file with more pairs (commas or new lines), e.g. a mounted Kubernetes Secret
     */
    public record Security(
            @DefaultValue("") String apiKeys,
            Path apiKeysFile,
            @Valid @NotNull @DefaultValue RateLimit rateLimit,
            @Valid @NotNull @DefaultValue Cors cors,
            /** One JSON line per request on the {@code engram.access} logger (never a body). */
            @DefaultValue("true") boolean accessLog) {

        /** Never prints the keys. */
        @Override
        public String toString() {
            return "Security[apiKeys=" + (apiKeys.isBlank() ? "" : "<redacted>") + ", apiKeysFile=" + apiKeysFile
                    + ", rateLimit=" + rateLimit + ", cors=" + cors + ", accessLog=" + accessLog + "]";
        }
    }

    /**
     * Per-key limits (when authentication is on); 0 turns a limit off. {@code tenants.<name>.*} overrides them
     * for every key of one tenant.
     */
    public record RateLimit(
            @Min(0) @DefaultValue("50") long requestsPerSecond,
            @Min(0) @DefaultValue("1000000") long tokensPerMinute,
            java.util.Map<String, @Valid TenantLimit> tenants) {

        public RateLimit {
            tenants = tenants == null ? java.util.Map.of() : java.util.Map.copyOf(tenants);
        }

        public long requestsPerSecond(String tenant) {
            TenantLimit t = tenants.get(tenant);
            return t != null && t.requestsPerSecond() != null ? t.requestsPerSecond() : requestsPerSecond;
        }

        public long tokensPerMinute(String tenant) {
            TenantLimit t = tenants.get(tenant);
            return t != null && t.tokensPerMinute() != null ? t.tokensPerMinute() : tokensPerMinute;
        }
    }

    /** A tenant's own limits; an unset one falls back to the default. */
    public record TenantLimit(@Min(0) Long requestsPerSecond, @Min(0) Long tokensPerMinute) {}

    /** Browser access: off (no CORS headers) unless origins are listed; {@code *} allows any origin. */
    public record Cors(
            java.util.List<String> allowedOrigins,
            @Min(0) @DefaultValue("3600") long maxAgeSeconds) {

        public Cors {
            allowedOrigins = allowedOrigins == null ? java.util.List.of()
                    : allowedOrigins.stream().map(String::trim).filter(o -> !o.isEmpty()).toList();
        }
    }
}
