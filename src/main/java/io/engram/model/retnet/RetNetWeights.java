package io.engram.model.retnet;

import io.engram.weights.Checkpoint;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;

/**
 * RetNet weights in host memory, float32, row-major. This is the one place that maps torchscale's
 * {@code RetNetDecoder} state_dict names ({@link RetNetSchema}) to fields; every shape is checked against the {@link RetNetConfig} here,
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
        String first = RetNetSchema.layer(0, RetNetSchema.Q);
        if (!ck.contains(first)) {
            throw new CheckpointException("not a torchscale RetNet checkpoint: no tensor '" + first + "' in " + ck.files());
        }
        if (ck.contains(RetNetSchema.layer(cfg.layers(), RetNetSchema.Q))) {
            throw new CheckpointException("the checkpoint has more layers than decoder_layers = " + cfg.layers() + " in " + ck.files());
        }
        Layer[] ls = new Layer[cfg.layers()];
        for (int i = 0; i < ls.length; i++) {
            Layer l = new Layer();
            l.retentionNorm = f(ck, RetNetSchema.layer(i, RetNetSchema.RETENTION_NORM), d);
            l.q = f(ck, RetNetSchema.layer(i, RetNetSchema.Q), d, d);
            l.k = f(ck, RetNetSchema.layer(i, RetNetSchema.K), d, d);
            l.v = f(ck, RetNetSchema.layer(i, RetNetSchema.V), dv, d);
            l.g = f(ck, RetNetSchema.layer(i, RetNetSchema.G), dv, d);
            l.out = f(ck, RetNetSchema.layer(i, RetNetSchema.OUT), d, dv);
            l.ffnNorm = f(ck, RetNetSchema.layer(i, RetNetSchema.FFN_NORM), d);
            l.fc1 = f(ck, RetNetSchema.layer(i, RetNetSchema.FC1), f, d);
            l.gate = f(ck, RetNetSchema.layer(i, RetNetSchema.GATE), f, d);
            l.fc2 = f(ck, RetNetSchema.layer(i, RetNetSchema.FC2), d, f);
            ls[i] = l;
        }
        float[] logDecay = f(ck, RetNetSchema.DECAY, cfg.heads());
        for (int h = 0; h < logDecay.length; h++) {
            if (!(logDecay[h] <= 0f)) {
                throw new CheckpointException("tensor '" + RetNetSchema.DECAY + "' holds log γ = " + logDecay[h] + " for head " + h
                        + ": a decay must be finite with γ <= 1");
            }
        }
        float[] angle = f(ck, RetNetSchema.ANGLE, cfg.keyDim());
        for (int i = 0; i < angle.length; i += 2) {
            if (angle[i] != angle[i + 1] || !Float.isFinite(angle[i])) {
                throw new CheckpointException("tensor '" + RetNetSchema.ANGLE + "' must repeat each finite frequency twice "
                        + "(interleaved pairs), but angle[" + i + "] = " + angle[i] + " and angle[" + (i + 1) + "] = " + angle[i + 1]);
            }
        }
        float[] embedNorm = null;
        if (cfg.layernormEmbedding()) {
            embedNorm = f(ck, RetNetSchema.EMBED_NORM, d);
        } else if (ck.contains(RetNetSchema.EMBED_NORM)) {
            throw new CheckpointException("the checkpoint has '" + RetNetSchema.EMBED_NORM
                    + "' but the config says layernorm_embedding=false");
        }
        return new RetNetWeights(cfg,
                f(ck, RetNetSchema.EMBED, v, d), embedNorm,
                f(ck, RetNetSchema.FINAL_NORM, d),
                f(ck, RetNetSchema.OUTPUT, v, d),
                angle, logDecay, ls);
    }

    private static float[] f(Checkpoint ck, String name, long... shape) {
        return Checkpoints.require(ck, name, shape).toFloatArray();
    }
}
