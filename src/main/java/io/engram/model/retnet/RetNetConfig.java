package io.engram.model.retnet;

import io.engram.weights.CheckpointException;
import java.util.LinkedHashMap;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * RetNet hyperparameters, under torchscale's {@code RetNetConfig} names (see {@code shared/spec/api.md}, "Model
 * directory"). Unlike RWKV-7 they cannot all be recovered from tensor shapes (the activation, the embedding scale,
 * the epsilon and the chunk size are not in the weights), so they come from {@code config.json}, or from a
 * safetensors checkpoint's {@code __metadata__["config"]} where config.json leaves a key out.
 *
 * @param dim                 D, {@code decoder_embed_dim}: width of the residual stream, of q and of k
 * @param valueDim            Dv, {@code decoder_value_embed_dim}: width of v and of the gate
 * @param heads               H, {@code decoder_retention_heads}
 * @param ffnDim              F, {@code decoder_ffn_embed_dim}
 * @param layers              L, {@code decoder_layers}
 * @param activation          {@code activation_fn} of the GLU feed-forward
 * @param noScaleEmbedding    {@code no_scale_embedding}: the embedding is multiplied by 1 when true, by sqrt(D) when false
 * @param layernormEmbedding  {@code layernorm_embedding}: an RMSNorm on the embedding
 * @param eps                 {@code layernorm_eps}, of every RMSNorm including the per-head one
 * @param vocab               V, {@code vocab_size}
 * @param chunkSize           {@code recurrent_chunk_size}: tokens per chunk of the chunkwise paradigm
 */
public record RetNetConfig(int dim, int valueDim, int heads, int ffnDim, int layers, Activation activation,
                           boolean noScaleEmbedding, boolean layernormEmbedding, float eps, int vocab, int chunkSize) {

    /** The GLU feed-forward's activation (torchscale's {@code get_activation_fn}). */
    public enum Activation {
        SWISH, GELU, RELU;

        static Activation parse(String s) {
            return switch (s) {
                case "swish", "silu" -> SWISH;
                case "gelu" -> GELU;
                case "relu" -> RELU;
                default -> throw new CheckpointException("RetNet activation_fn must be \"swish\", \"gelu\" or \"relu\", got \"" + s + "\"");
            };
        }

        /** The config.json spelling. */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public RetNetConfig {
        check(dim > 0 && valueDim > 0 && heads > 0 && ffnDim > 0 && layers > 0 && vocab > 0 && chunkSize > 0,
                "every RetNet size must be positive");
        check(dim % heads == 0, "decoder_embed_dim " + dim + " is not a multiple of decoder_retention_heads " + heads);
        check(valueDim % heads == 0, "decoder_value_embed_dim " + valueDim + " is not a multiple of decoder_retention_heads " + heads);
        check((dim / heads) % 2 == 0 && dim / heads >= 4,
                "the key size per head (decoder_embed_dim / decoder_retention_heads = " + dim / heads
                        + ") must be even and at least 4 for the rotation");
        check(eps >= 0 && Float.isFinite(eps), "layernorm_eps must be finite and >= 0");
    }

    /** dk: key (and query) channels per head. */
    public int keyDim() {
        return dim / heads;
    }

    /** dv: value channels per head. */
    public int headValueDim() {
        return valueDim / heads;
    }

    /** 1, or sqrt(D) when {@code no_scale_embedding} is false. */
    public float embedScale() {
        return noScaleEmbedding ? 1f : (float) Math.sqrt(dim);
    }

    /** The same hyperparameters with another chunk size (the server's {@code engram.retnet.chunk-size}). */
    public RetNetConfig withChunkSize(int chunk) {
        return new RetNetConfig(dim, valueDim, heads, ffnDim, layers, activation, noScaleEmbedding,
                layernormEmbedding, eps, vocab, chunk);
    }

    /** The config.json keys for these hyperparameters (what {@link #from} reads back). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("decoder_embed_dim", dim);
        m.put("decoder_value_embed_dim", valueDim);
        m.put("decoder_retention_heads", heads);
        m.put("decoder_ffn_embed_dim", ffnDim);
        m.put("decoder_layers", layers);
        m.put("activation_fn", activation.key());
        m.put("no_scale_embedding", noScaleEmbedding);
        m.put("layernorm_embedding", layernormEmbedding);
        m.put("layernorm_eps", (double) eps);
        m.put("vocab_size", vocab);
        m.put("recurrent_chunk_size", chunkSize);
        return m;
    }

    /**
     * Reads the hyperparameters from config.json's keys, falling back key by key to the JSON in the checkpoint's
     * {@code __metadata__["config"]} when there is one.
     *
     * @throws CheckpointException naming the first missing or ill-typed key
     */
    public static RetNetConfig from(Map<String, ?> configJson, Map<String, String> checkpointMetadata) {
        Map<String, Object> m = new LinkedHashMap<>();
        String embedded = checkpointMetadata == null ? null : checkpointMetadata.get("config");
        if (embedded != null) {
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> e = JsonMapper.builder().build().readValue(embedded, Map.class);
                m.putAll(e);
            } catch (RuntimeException ex) {
                throw new CheckpointException("the checkpoint's __metadata__[\"config\"] is not JSON: " + ex.getMessage(), ex);
            }
        }
        m.putAll(configJson);
        return from(m);
    }

    /** Reads the hyperparameters from one map of torchscale config keys. */
    public static RetNetConfig from(Map<String, ?> m) {
        if (m.containsKey("decoder_normalize_before") && !bool(m, "decoder_normalize_before")) {
            throw new CheckpointException("RetNet config: decoder_normalize_before=false (post-norm) is not supported");
        }
        if (m.containsKey("deepnorm") && bool(m, "deepnorm")) {
            throw new CheckpointException("RetNet config: deepnorm=true is not supported");
        }
        return new RetNetConfig(
                integer(m, "decoder_embed_dim"), integer(m, "decoder_value_embed_dim"),
                integer(m, "decoder_retention_heads"), integer(m, "decoder_ffn_embed_dim"),
                integer(m, "decoder_layers"), Activation.parse(string(m, "activation_fn")),
                bool(m, "no_scale_embedding"), bool(m, "layernorm_embedding"),
                (float) number(m, "layernorm_eps"), integer(m, "vocab_size"), integer(m, "recurrent_chunk_size"));
    }

    private static Object need(Map<String, ?> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            throw new CheckpointException("RetNet config: missing key \"" + key + "\" (config.json of a RetNet model needs "
                    + "decoder_embed_dim, decoder_value_embed_dim, decoder_retention_heads, decoder_ffn_embed_dim, "
                    + "decoder_layers, activation_fn, no_scale_embedding, layernorm_embedding, layernorm_eps, "
                    + "vocab_size, recurrent_chunk_size)");
        }
        return v;
    }

    private static int integer(Map<String, ?> m, String key) {
        Object v = need(m, key);
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < Integer.MAX_VALUE) {
            return n.intValue();
        }
        throw new CheckpointException("RetNet config: \"" + key + "\" must be an integer, got " + v);
    }

    private static double number(Map<String, ?> m, String key) {
        Object v = need(m, key);
        if (v instanceof Number n) return n.doubleValue();
        throw new CheckpointException("RetNet config: \"" + key + "\" must be a number, got " + v);
    }

    private static boolean bool(Map<String, ?> m, String key) {
        Object v = need(m, key);
        if (v instanceof Boolean b) return b;
        throw new CheckpointException("RetNet config: \"" + key + "\" must be true or false, got " + v);
    }

    private static String string(Map<String, ?> m, String key) {
        Object v = need(m, key);
        if (v instanceof String s) return s;
        throw new CheckpointException("RetNet config: \"" + key + "\" must be a string, got " + v);
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new CheckpointException("RetNet config: " + message);
    }
}
