package io.engram.model.rwkv7;

/**
 * RWKV-7 hyperparameters. None are configured: all follow from the checkpoint's tensor shapes
 * (see {@link Rwkv7Weights#read}).
 *
 * @param layers     L, number of blocks
 * @param dim        C, the embedding width
 * @param heads      H = {@code r_k.shape[0]}
 * @param headSize   N = {@code r_k.shape[1]}, with H*N = C
 * @param vocab      V, rows of {@code emb.weight}
 * @param ffnDim     F, rows of {@code ffn.key.weight} (4C in released models)
 * @param decayLora  Dw, columns of {@code att.w1}
 * @param aLora      Da, columns of {@code att.a1}
 * @param valueLora  Dv, columns of {@code att.v1} (blocks 1..L-1; 0 in a one-block model)
 * @param gateLora   Dg, columns of {@code att.g1}
 */
public record Rwkv7Config(int layers, int dim, int heads, int headSize, int vocab, int ffnDim,
                          int decayLora, int aLora, int valueLora, int gateLora) {

    /** LayerNorm epsilon (ln0, ln1, ln2, ln_out). */
    public static final float LAYER_NORM_EPS = 1e-5f;
    /** GroupNorm epsilon of {@code ln_x}: 64e-5, not 1e-5 (x070 uses head_size_divisor 8 squared). */
    public static final float GROUP_NORM_EPS = 64e-5f;

    public Rwkv7Config {
        if (layers < 1 || dim < 1 || headSize < 1 || heads * headSize != dim || vocab < 1 || ffnDim < 1
                || decayLora < 1 || aLora < 1 || valueLora < 0 || gateLora < 1) {
            throw new IllegalArgumentException("not an RWKV-7 shape: " + layers + " layers, C=" + dim + ", H=" + heads
                    + ", N=" + headSize + " (H*N must be C), V=" + vocab + ", F=" + ffnDim + ", LoRA ranks "
                    + decayLora + "/" + aLora + "/" + valueLora + "/" + gateLora);
        }
    }

    /** The shape a demo writer or trainer asks for: heads follow from the width and head size (H = C / N). */
    /**
     * Bytes of the weights the CPU path serves in {@code dtype}: the large matrices (r, k, v, output, channel mix,
     * head) in that format, the embedding in bfloat16 when that is the format and float32 otherwise (int8 scales
     * included; the small LoRA matrices and vectors are not, being under 2% of a model).
     */
    public long servedBytes(io.engram.weights.ServeDtype dtype) {
        long large = (long) layers * (4L * dim * dim + 2L * dim * ffnDim) + (long) vocab * dim;
        double perWeight = switch (dtype) {
            case FLOAT32 -> 4;
            case BFLOAT16 -> 2;
            case INT8 -> 1 + 4.0 / io.engram.weights.ServeDtype.INT8_GROUP;
        };
        long emb = (long) vocab * dim * (dtype == io.engram.weights.ServeDtype.BFLOAT16 ? 2 : 4);
        return (long) (large * perWeight) + emb;
    }

    public static Rwkv7Config of(int layers, int dim, int headSize, int vocab, int ffnDim,
                                 int decayLora, int aLora, int valueLora, int gateLora) {
        return new Rwkv7Config(layers, dim, headSize < 1 ? 0 : dim / headSize, headSize, vocab, ffnDim,
                decayLora, aLora, valueLora, gateLora);
    }
}
