package io.engram.model.retnet;

import io.engram.weights.Checkpoint;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;

/**
 * RetNet weights in host memory, float32, row-major. This is the one place that maps torchscale's
 * {@code RetNetDecoder} state_dict names to fields; every shape is checked against the {@link RetNetConfig} here,
 * before the server takes traffic. Matrices are {@code nn.Linear} {@code [out, in]} (y = W x).
 */
public final class RetNetWeights {

    public final RetNetConfig config;
    /** {@code embed_tokens.weight [V,D]}. */
    public final float[] embed;
    /** {@code layernorm_embedding.weight [D]}, or null when {@code layernorm_embedding} is false. */
    public final float[] embedNorm;
    /** {@code layer_norm.weight [D]}: the final RMSNorm. */
    public final float[] finalNorm;
    /** {@code output_projection.weight [V,D]} (not tied to the embedding). */
    public final float[] outputProjection;
    /** {@code retnet_rel_pos.angle [dk]}: θ per key channel, each pair's frequency repeated twice. */
    public final float[] angle;
    /** {@code retnet_rel_pos.decay [H]}: log γ_h, γ_h = 1 - 2^(-5-h) in torchscale. */
    public final float[] logDecay;
    public final Layer[] layers;

    /** The weights of one {@code layers.i.*} block. */
    public static final class Layer {
        /** {@code retention_layer_norm.weight [D]}, {@code final_layer_norm.weight [D]}. */
        public float[] retentionNorm, ffnNorm;
        /** {@code retention.q_proj|k_proj.weight [D,D]}, {@code v_proj|g_proj.weight [Dv,D]}, {@code out_proj.weight [D,Dv]}. */
        public float[] q, k, v, g, out;
        /** {@code ffn.fc1|gate.weight [F,D]}, {@code ffn.fc2.weight [D,F]}. */
        public float[] fc1, gate, fc2;
    }

    private RetNetWeights(RetNetConfig config, float[] embed, float[] embedNorm, float[] finalNorm,
                          float[] outputProjection, float[] angle, float[] logDecay, Layer[] layers) {
        this.config = config;
        this.embed = embed;
        this.embedNorm = embedNorm;
        this.finalNorm = finalNorm;
        this.outputProjection = outputProjection;
        this.angle = angle;
        this.logDecay = logDecay;
        this.layers = layers;
    }

    /** Number of values in all tensors (what {@code /v1/models} reports as parameters), buffers included. */
    public long parameterCount() {
        long n = (long) embed.length + finalNorm.length + outputProjection.length + angle.length + logDecay.length
                + (embedNorm == null ? 0 : embedNorm.length);
        for (Layer l : layers) {
            for (float[] a : new float[][] {l.retentionNorm, l.ffnNorm, l.q, l.k, l.v, l.g, l.out, l.fc1, l.gate, l.fc2}) {
                n += a.length;
            }
        }
        return n;
    }

    /** Reads and validates every tensor against {@code cfg}. */
    public static RetNetWeights read(Checkpoint ck, RetNetConfig cfg) {
        int d = cfg.dim(), dv = cfg.valueDim(), f = cfg.ffnDim(), v = cfg.vocab();
        if (!ck.contains("layers.0.retention.q_proj.weight")) {
            throw new CheckpointException("not a torchscale RetNet checkpoint: no tensor 'layers.0.retention.q_proj.weight' in " + ck.files());
        }
        if (ck.contains("layers." + cfg.layers() + ".retention.q_proj.weight")) {
            throw new CheckpointException("the checkpoint has more layers than decoder_layers = " + cfg.layers() + " in " + ck.files());
        }
        Layer[] ls = new Layer[cfg.layers()];
        for (int i = 0; i < ls.length; i++) {
            String p = "layers." + i + ".";
            Layer l = new Layer();
            l.retentionNorm = f(ck, p + "retention_layer_norm.weight", d);
            l.q = f(ck, p + "retention.q_proj.weight", d, d);
            l.k = f(ck, p + "retention.k_proj.weight", d, d);
            l.v = f(ck, p + "retention.v_proj.weight", dv, d);
            l.g = f(ck, p + "retention.g_proj.weight", dv, d);
            l.out = f(ck, p + "retention.out_proj.weight", d, dv);
            l.ffnNorm = f(ck, p + "final_layer_norm.weight", d);
            l.fc1 = f(ck, p + "ffn.fc1.weight", f, d);
            l.gate = f(ck, p + "ffn.gate.weight", f, d);
            l.fc2 = f(ck, p + "ffn.fc2.weight", d, f);
            ls[i] = l;
        }
        float[] logDecay = f(ck, "retnet_rel_pos.decay", cfg.heads());
        for (int h = 0; h < logDecay.length; h++) {
            if (!(logDecay[h] <= 0f)) {
                throw new CheckpointException("tensor 'retnet_rel_pos.decay' holds log γ = " + logDecay[h] + " for head " + h
                        + ": a decay must be finite with γ <= 1");
            }
        }
        float[] angle = f(ck, "retnet_rel_pos.angle", cfg.keyDim());
        for (int i = 0; i < angle.length; i += 2) {
            if (angle[i] != angle[i + 1] || !Float.isFinite(angle[i])) {
                throw new CheckpointException("tensor 'retnet_rel_pos.angle' must repeat each finite frequency twice "
                        + "(interleaved pairs), but angle[" + i + "] = " + angle[i] + " and angle[" + (i + 1) + "] = " + angle[i + 1]);
            }
        }
        float[] embedNorm = null;
        if (cfg.layernormEmbedding()) {
            embedNorm = f(ck, "layernorm_embedding.weight", d);
        } else if (ck.contains("layernorm_embedding.weight")) {
            throw new CheckpointException("the checkpoint has 'layernorm_embedding.weight' but the config says layernorm_embedding=false");
        }
        return new RetNetWeights(cfg,
                f(ck, "embed_tokens.weight", v, d), embedNorm,
                f(ck, "layer_norm.weight", d),
                f(ck, "output_projection.weight", v, d),
                angle, logDecay, ls);
    }

    private static float[] f(Checkpoint ck, String name, long... shape) {
        return Checkpoints.require(ck, name, shape).toFloatArray();
    }
}
