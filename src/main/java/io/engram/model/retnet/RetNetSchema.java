package io.engram.model.retnet;

import static io.engram.weights.RandomTensors.normal;
import static io.engram.weights.RandomTensors.put;
import static io.engram.weights.RandomTensors.uniform;

import io.engram.weights.HostTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

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

    /**
     * A random checkpoint of shape {@code cfg}, deterministic in {@code seed}: projections and embedding N(0, 1/in),
     * RMSNorm weights in [0.5, 1.5), and torchscale's buffers ({@code angle = 10000^-linspace(0,1,dk/2)}, pairs
     * repeated; {@code decay = log(1 - 2^(-5-h))}). The demo writer and tests use it; training starts from it with
     * every norm at 1.
     */
    public static Map<String, HostTensor> randomInit(RetNetConfig cfg, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = cfg.dim(), dv = cfg.valueDim(), f = cfg.ffnDim(), v = cfg.vocab(), h = cfg.heads(), dk = cfg.keyDim();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        put(t, EMBED, normal(rnd, (long) v * d, Math.pow(d, -0.5)), v, d);
        if (cfg.layernormEmbedding()) put(t, EMBED_NORM, uniform(rnd, d, 0.5, 1.5), d);
        double sd = Math.pow(d, -0.5);
        for (int i = 0; i < cfg.layers(); i++) {
            for (String field : LAYER_FIELDS) {
                String name = layer(i, field);
                switch (field) {
                    case Q, K -> put(t, name, normal(rnd, (long) d * d, sd), d, d);
                    case V, G -> put(t, name, normal(rnd, (long) dv * d, sd), dv, d);
                    case OUT -> put(t, name, normal(rnd, (long) d * dv, Math.pow(dv, -0.5)), d, dv);
                    case FC1, GATE -> put(t, name, normal(rnd, (long) f * d, sd), f, d);
                    case FC2 -> put(t, name, normal(rnd, (long) d * f, Math.pow(f, -0.5)), d, f);
                    case RETENTION_NORM, FFN_NORM -> put(t, name, uniform(rnd, d, 0.5, 1.5), d);
                    default -> throw new IllegalStateException("no initialiser for " + field);
                }
            }
        }
        put(t, FINAL_NORM, uniform(rnd, d, 0.5, 1.5), d);
        put(t, OUTPUT, normal(rnd, (long) v * d, sd), v, d);
        float[] angle = new float[dk];
        for (int i = 0; i < dk / 2; i++) {
            double lin = dk / 2 == 1 ? 0 : (double) i / (dk / 2 - 1);
            angle[2 * i] = angle[2 * i + 1] = (float) (1.0 / Math.pow(10000, lin));
        }
        put(t, ANGLE, angle, dk);
        float[] decay = new float[h];
        for (int i = 0; i < h; i++) decay[i] = (float) Math.log(1 - Math.pow(2, -5 - i));
        put(t, DECAY, decay, h);
        return t;
    }

    private RetNetSchema() {}
}
