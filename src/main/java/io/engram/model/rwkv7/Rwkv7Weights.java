package io.engram.model.rwkv7;

import static io.engram.model.rwkv7.Rwkv7Schema.*;

import io.engram.weights.Checkpoint;
import io.engram.weights.CheckpointException;
import io.engram.weights.Checkpoints;
import io.engram.weights.HostTensor;

/**
 * RWKV-7 (x070) weights: the vectors and LoRA matrices read into float32 arrays, the large matrices (embedding,
 * r/k/v/output, channel mix, head) kept as the checkpoint's tensors (a memory-mapped safetensors slice costs no
 * heap) for the model to convert one row at a time into the format it serves ({@link #rows}). This is the one
 * place that maps the official checkpoint tensor names to fields; every shape is checked here, before the server
 * takes traffic.
 *
 * <p>Layout conventions: {@code *.weight} matrices are {@code nn.Linear} {@code [out, in]} (y = W x); the LoRA
 * matrices {@code w1, w2, a1, ...} are {@code [in, out]} and applied as {@code x @ w1 @ w2}; the {@code [1,1,C]}
 * mixing parameters are flattened to {@code [C]}.
 */
public final class Rwkv7Weights {

    public final Rwkv7Config config;
    /** {@code emb.weight [V,C]}; null after {@link #releaseConverted()}. */
    public HostTensor emb;
    /** {@code blocks.0.ln0.weight/bias [C]}, applied to the embedding. */
    public final float[] ln0W, ln0B;
    /** {@code ln_out.weight/bias [C]}. */
    public final float[] lnOutW, lnOutB;
    /** {@code head.weight [V,C]}; null after {@link #releaseConverted()}. */
    public HostTensor head;
    public final Layer[] layers;

    /** The weights of one block, {@code blocks.i.*}. */
    public static final class Layer {
        public float[] ln1W, ln1B, ln2W, ln2B;
        /** Token-shift mixing coefficients {@code att.x_r|x_w|x_k|x_v|x_a|x_g [C]}. */
        public float[] xR, xW, xK, xV, xA, xG;
        /** Decay LoRA: {@code w0 [C], w1 [C,Dw], w2 [Dw,C]}. */
        public float[] w0, w1, w2;
        /** In-context learning rate LoRA: {@code a0 [C], a1 [C,Da], a2 [Da,C]}. */
        public float[] a0, a1, a2;
        /** Value residual LoRA: {@code v0 [C], v1 [C,Dv], v2 [Dv,C]}; null in block 0, where it is unused. */
        public float[] v0, v1, v2;
        /** Gate LoRA: {@code g1 [C,Dg], g2 [Dg,C]}. */
        public float[] g1, g2;
        /** {@code k_k [C]}, {@code k_a [C]}, {@code r_k [H,N]} flattened to [C]. */
        public float[] kK, kA, rK;
        /** {@code att.receptance|key|value|output.weight [C,C]}. */
        public HostTensor wR, wK, wV, wO;
        /** {@code att.ln_x.weight/bias [C]}: the per-head GroupNorm. */
        public float[] lnxW, lnxB;
        /** {@code ffn.x_k [C]}. */
        public float[] ffnXK;
        /** {@code ffn.key.weight [F,C]}, {@code ffn.value.weight [C,F]}. */
        public HostTensor ffnKey, ffnValue;
    }

    private Rwkv7Weights(Rwkv7Config config, HostTensor emb, float[] ln0W, float[] ln0B, float[] lnOutW,
                         float[] lnOutB, HostTensor head, Layer[] layers) {
        this.config = config;
        this.emb = emb;
        this.ln0W = ln0W;
        this.ln0B = ln0B;
        this.lnOutW = lnOutW;
        this.lnOutB = lnOutB;
        this.head = head;
        this.layers = layers;
    }

    /** Row {@code o} of a {@code [rows, cols]} matrix tensor as float32: what a served copy is built from. */
    public static io.engram.model.ops.ServedMatrix.Rows rows(HostTensor t) {
        int cols = (int) t.shape()[t.shape().length - 1];
        return (o, dst) -> t.floatsInto((long) o * cols, dst, 0, cols);
    }

    /**
     * Drops what a model converts into copies of its own once it is built: the checkpoint tensors of the large
     * matrices (embedding, r, k, v, output, channel mix, head), so a .pth file's bytes or a file mapping are not kept
     * alive, and the float32 LoRA down-projections ({@code w1, a1, v1, g1}: the decode kernels hold them
     * transposed, libtorch and the device path their own copies). Only for weights no one else will read;
     * {@link #parameterCount()} must be taken before.
     */
    void releaseConverted() {
        emb = head = null;
        for (Layer l : layers) {
            l.wR = l.wK = l.wV = l.wO = null;
            l.ffnKey = l.ffnValue = null;
            l.w1 = l.a1 = l.v1 = l.g1 = null;
        }
    }

    /** Number of values in all tensors (what {@code /v1/models} reports as parameters). */
    public long parameterCount() {
        long n = emb.numel() + ln0W.length + ln0B.length + lnOutW.length + lnOutB.length + head.numel();
        for (Layer l : layers) {
            for (float[] a : new float[][] {l.ln1W, l.ln1B, l.ln2W, l.ln2B, l.xR, l.xW, l.xK, l.xV, l.xA, l.xG,
                    l.w0, l.w1, l.w2, l.a0, l.a1, l.a2, l.v0, l.v1, l.v2, l.g1, l.g2, l.kK, l.kA, l.rK,
                    l.lnxW, l.lnxB, l.ffnXK}) {
                if (a != null) n += a.length;
            }
            for (HostTensor t : new HostTensor[] {l.wR, l.wK, l.wV, l.wO, l.ffnKey, l.ffnValue}) n += t.numel();
        }
        return n;
    }

    /** Reads and validates every tensor. Hyperparameters come from the shapes. */
    public static Rwkv7Weights read(Checkpoint ck) {
        int layers = 0;
        while (ck.contains(block(layers, LN1_WEIGHT))) layers++;
        if (layers == 0) throw new CheckpointException("not an RWKV-7 checkpoint: no tensor '" + block(0, LN1_WEIGHT) + "' in " + ck.files());
        long[] embShape = ck.get(EMB).shape();
        if (embShape.length != 2) throw new CheckpointException("tensor '" + EMB + "' must be [V,C], got rank " + embShape.length);
        int vocab = (int) embShape[0];
        int dim = (int) embShape[1];
        long[] rk = ck.get(block(0, ATT_R_K)).shape();
        if (rk.length != 2 || rk[0] * rk[1] != dim) {
            throw new CheckpointException("tensor '" + block(0, ATT_R_K) + "' must be [H,N] with H*N = " + dim
                    + ", got " + java.util.Arrays.toString(rk));
        }
        int heads = (int) rk[0];
        int headSize = (int) rk[1];
        int ffn = (int) ck.get(block(0, FFN_KEY)).shape()[0];
        int dw = (int) ck.get(block(0, ATT_W1)).shape()[1];
        int da = (int) ck.get(block(0, ATT_A1)).shape()[1];
        int dv = layers > 1 ? (int) ck.get(block(1, ATT_V1)).shape()[1] : 0;
        int dg = (int) ck.get(block(0, ATT_G1)).shape()[1];
        Rwkv7Config cfg = new Rwkv7Config(layers, dim, heads, headSize, vocab, ffn, dw, da, dv, dg);

        int c = dim;
        Layer[] ls = new Layer[layers];
        for (int i = 0; i < layers; i++) {
            Layer l = new Layer();
            l.ln1W = f(ck, block(i, LN1_WEIGHT), c);
            l.ln1B = f(ck, block(i, LN1_BIAS), c);
            l.ln2W = f(ck, block(i, LN2_WEIGHT), c);
            l.ln2B = f(ck, block(i, LN2_BIAS), c);
            l.xR = f(ck, block(i, ATT_X_R), 1, 1, c);
            l.xW = f(ck, block(i, ATT_X_W), 1, 1, c);
            l.xK = f(ck, block(i, ATT_X_K), 1, 1, c);
            l.xV = f(ck, block(i, ATT_X_V), 1, 1, c);
            l.xA = f(ck, block(i, ATT_X_A), 1, 1, c);
            l.xG = f(ck, block(i, ATT_X_G), 1, 1, c);
            l.w0 = f(ck, block(i, ATT_W0), 1, 1, c);
            l.w1 = f(ck, block(i, ATT_W1), c, dw);
            l.w2 = f(ck, block(i, ATT_W2), dw, c);
            l.a0 = f(ck, block(i, ATT_A0), 1, 1, c);
            l.a1 = f(ck, block(i, ATT_A1), c, da);
            l.a2 = f(ck, block(i, ATT_A2), da, c);
            if (i > 0) {
                l.v0 = f(ck, block(i, ATT_V0), 1, 1, c);
                l.v1 = f(ck, block(i, ATT_V1), c, dv);
                l.v2 = f(ck, block(i, ATT_V2), dv, c);
            }
            l.g1 = f(ck, block(i, ATT_G1), c, dg);
            l.g2 = f(ck, block(i, ATT_G2), dg, c);
            l.kK = f(ck, block(i, ATT_K_K), 1, 1, c);
            l.kA = f(ck, block(i, ATT_K_A), 1, 1, c);
            l.rK = f(ck, block(i, ATT_R_K), heads, headSize);
            l.wR = matrix(ck, block(i, ATT_RECEPTANCE), c, c);
            l.wK = matrix(ck, block(i, ATT_KEY), c, c);
            l.wV = matrix(ck, block(i, ATT_VALUE), c, c);
            l.wO = matrix(ck, block(i, ATT_OUTPUT), c, c);
            l.lnxW = f(ck, block(i, ATT_LN_X_WEIGHT), c);
            l.lnxB = f(ck, block(i, ATT_LN_X_BIAS), c);
            l.ffnXK = f(ck, block(i, FFN_X_K), 1, 1, c);
            l.ffnKey = matrix(ck, block(i, FFN_KEY), ffn, c);
            l.ffnValue = matrix(ck, block(i, FFN_VALUE), c, ffn);
            ls[i] = l;
        }
        return new Rwkv7Weights(cfg,
                matrix(ck, EMB, vocab, c),
                f(ck, LN0_WEIGHT, c), f(ck, LN0_BIAS, c),
                f(ck, LN_OUT_WEIGHT, c), f(ck, LN_OUT_BIAS, c),
                matrix(ck, HEAD, vocab, c), ls);
    }

    /** A large matrix: shape checked, values left where the checkpoint holds them (a float dtype). */
    private static HostTensor matrix(Checkpoint ck, String name, long... shape) {
        HostTensor t = Checkpoints.require(ck, name, shape);
        if (!t.dtype().isFloatingPoint()) {
            throw new CheckpointException("tensor '" + name + "' has dtype " + t.dtype() + "; weights must be floating point");
        }
        return t;
    }

    private static float[] f(Checkpoint ck, String name, long... shape) {
        HostTensor t = Checkpoints.require(ck, name, shape);
        return t.toFloatArray();
    }
}
