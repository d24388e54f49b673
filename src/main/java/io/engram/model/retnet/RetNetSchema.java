package io.engram.model.retnet;

import java.util.ArrayList;
import java.util.List;

/**
 * The RetNet checkpoint's tensor names, as torchscale's {@code RetNetDecoder.state_dict()} writes them: the one home
 * of these strings (tracker issue 17), used by the reader ({@link RetNetWeights}), the demo writer and training.
 * Per-layer names are {@link #layer}{@code (i, field)}, i.e. {@code layers.<i>.<field>}, with a field constant below.
 * Shapes use D = width, Dv = value width, F = FFN width, V = vocabulary, H = heads, dk = key width per head;
 * matrices are {@code nn.Linear} {@code [out,in]}.
 */
public final class RetNetSchema {

    /** {@code [V,D]}. */
    public static final String EMBED = "embed_tokens.weight";
    /** {@code [D]}: the RMSNorm after the embedding, present only with {@code layernorm_embedding}. */
    public static final String EMBED_NORM = "layernorm_embedding.weight";
    /** {@code [D]}: the final RMSNorm. */
    public static final String FINAL_NORM = "layer_norm.weight";
    /** {@code [V,D]}: the head, not tied to the embedding. */
    public static final String OUTPUT = "output_projection.weight";
    /** {@code [H*dk]}, a buffer: θ per key channel, each pair's frequency repeated twice. */
    public static final String ANGLE = "retnet_rel_pos.angle";
    /** {@code [H]}, a buffer: log γ_h. */
    public static final String DECAY = "retnet_rel_pos.decay";

    // --- per-layer fields, relative to layers.<i>. -----------------------------------------------------------

    /** {@code [D]}: RMSNorm before the retention. */
    public static final String RETENTION_NORM = "retention_layer_norm.weight";
    /** {@code [D,D]}. */
    public static final String Q = "retention.q_proj.weight";
    /** {@code [D,D]}. */
    public static final String K = "retention.k_proj.weight";
    /** {@code [Dv,D]}. */
    public static final String V = "retention.v_proj.weight";
    /** {@code [Dv,D]}: the swish gate. */
    public static final String G = "retention.g_proj.weight";
    /** {@code [D,Dv]}. */
    public static final String OUT = "retention.out_proj.weight";
    /** {@code [D]}: RMSNorm before the feed-forward. */
    public static final String FFN_NORM = "final_layer_norm.weight";
    /** {@code [F,D]}. */
    public static final String FC1 = "ffn.fc1.weight";
    /** {@code [F,D]}. */
    public static final String GATE = "ffn.gate.weight";
    /** {@code [D,F]}. */
    public static final String FC2 = "ffn.fc2.weight";

    /** The per-layer fields, in the order the demo writer draws them. */
    public static final List<String> LAYER_FIELDS = List.of(Q, K, V, G, OUT, RETENTION_NORM, FC1, GATE, FC2, FFN_NORM);
    /** The buffers: fixed by the architecture, never trained. */
    public static final List<String> BUFFERS = List.of(ANGLE, DECAY);

    private static final String LAYER_PREFIX = "layers.";

    /** The name of per-layer {@code field} (a constant above) in layer {@code i}: {@code layers.<i>.<field>}. */
    public static String layer(int i, String field) {
        return LAYER_PREFIX + i + "." + field;
    }

    /** Whether {@code name} is an RMSNorm weight (the embedding norm, a layer's two norms, or the final one). */
    public static boolean isNorm(String name) {
        return name.equals(FINAL_NORM) || name.equals(EMBED_NORM)
                || name.endsWith("." + RETENTION_NORM) || name.endsWith("." + FFN_NORM);
    }

    /**
     * Every tensor name of a checkpoint with {@code layers} layers, buffers last: the embedding, its norm when
     * {@code embedNorm}, each layer's {@link #LAYER_FIELDS}, the final norm, the head, {@link #BUFFERS}.
     */
    public static List<String> all(int layers, boolean embedNorm) {
        List<String> out = new ArrayList<>();
        out.add(EMBED);
        if (embedNorm) out.add(EMBED_NORM);
        for (int i = 0; i < layers; i++) {
            for (String f : LAYER_FIELDS) out.add(layer(i, f));
        }
        out.add(FINAL_NORM);
        out.add(OUTPUT);
        out.addAll(BUFFERS);
        return out;
    }

    private RetNetSchema() {}
}
