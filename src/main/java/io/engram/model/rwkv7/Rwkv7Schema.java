package io.engram.model.rwkv7;

import static io.engram.weights.RandomTensors.fill;
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
 * The RWKV-7 (x070) checkpoint's tensor names, as written by BlinkDL RWKV-LM ({@code RWKV-v7/train_temp}): the one
 * home of these strings (tracker issue 17). Per-layer names are {@link #block}{@code (layer, field)}, i.e.
 * {@code blocks.<layer>.<field>}, with a field constant below; shapes use C = width, H = heads, N = head size,
 * F = FFN width, D* = LoRA ranks.
 */
public final class Rwkv7Schema {

    /** {@code [V,C]}. */
    public static final String EMB = "emb.weight";
    /** {@code [C]}: the extra LayerNorm before block 0. */
    public static final String LN0_WEIGHT = "blocks.0.ln0.weight";
    /** {@code [C]}. */
    public static final String LN0_BIAS = "blocks.0.ln0.bias";
    /** {@code [C]}. */
    public static final String LN_OUT_WEIGHT = "ln_out.weight";
    /** {@code [C]}. */
    public static final String LN_OUT_BIAS = "ln_out.bias";
    /** {@code [V,C]}. */
    public static final String HEAD = "head.weight";

    // --- per-layer fields, relative to blocks.<layer>. -------------------------------------------------------

    /** {@code [C]}: LayerNorm before the time mix. */
    public static final String LN1_WEIGHT = "ln1.weight";
    /** {@code [C]}. */
    public static final String LN1_BIAS = "ln1.bias";
    /** {@code [C]}: LayerNorm before the channel mix. */
    public static final String LN2_WEIGHT = "ln2.weight";
    /** {@code [C]}. */
    public static final String LN2_BIAS = "ln2.bias";
    /** {@code [1,1,C]}: token-shift mixes of the time mix. */
    public static final String ATT_X_R = "att.x_r";
    public static final String ATT_X_W = "att.x_w";
    public static final String ATT_X_K = "att.x_k";
    public static final String ATT_X_V = "att.x_v";
    public static final String ATT_X_A = "att.x_a";
    public static final String ATT_X_G = "att.x_g";
    /** {@code [1,1,C]}: decay bias. */
    public static final String ATT_W0 = "att.w0";
    /** {@code [C,Dw]}. */
    public static final String ATT_W1 = "att.w1";
    /** {@code [Dw,C]}. */
    public static final String ATT_W2 = "att.w2";
    /** {@code [1,1,C]}: in-context learning rate bias. */
    public static final String ATT_A0 = "att.a0";
    /** {@code [C,Da]}. */
    public static final String ATT_A1 = "att.a1";
    /** {@code [Da,C]}. */
    public static final String ATT_A2 = "att.a2";
    /** {@code [1,1,C]}: value-residual mix bias; absent (unused) in block 0. */
    public static final String ATT_V0 = "att.v0";
    /** {@code [C,Dv]}; absent in block 0. */
    public static final String ATT_V1 = "att.v1";
    /** {@code [Dv,C]}; absent in block 0. */
    public static final String ATT_V2 = "att.v2";
    /** {@code [C,Dg]}: output gate. */
    public static final String ATT_G1 = "att.g1";
    /** {@code [Dg,C]}. */
    public static final String ATT_G2 = "att.g2";
    /** {@code [1,1,C]}. */
    public static final String ATT_K_K = "att.k_k";
    /** {@code [1,1,C]}. */
    public static final String ATT_K_A = "att.k_a";
    /** {@code [H,N]}: the per-head bonus. */
    public static final String ATT_R_K = "att.r_k";
    /** {@code [C,C]} ({@code nn.Linear}, {@code [out,in]}). */
    public static final String ATT_RECEPTANCE = "att.receptance.weight";
    /** {@code [C,C]}. */
    public static final String ATT_KEY = "att.key.weight";
    /** {@code [C,C]}. */
    public static final String ATT_VALUE = "att.value.weight";
    /** {@code [C,C]}. */
    public static final String ATT_OUTPUT = "att.output.weight";
    /** {@code [C]}: per-head GroupNorm. */
    public static final String ATT_LN_X_WEIGHT = "att.ln_x.weight";
    /** {@code [C]}. */
    public static final String ATT_LN_X_BIAS = "att.ln_x.bias";
    /** {@code [1,1,C]}: token-shift mix of the channel mix. */
    public static final String FFN_X_K = "ffn.x_k";
    /** {@code [F,C]}. */
    public static final String FFN_KEY = "ffn.key.weight";
    /** {@code [C,F]}. */
    public static final String FFN_VALUE = "ffn.value.weight";

    /** The six token-shift mixes, in the order r, w, k, v, a, g. */
    public static final List<String> ATT_MIXES = List.of(ATT_X_R, ATT_X_W, ATT_X_K, ATT_X_V, ATT_X_A, ATT_X_G);
    /** The value-residual fields, absent in block 0. */
    public static final List<String> ATT_V = List.of(ATT_V0, ATT_V1, ATT_V2);

    private static final String BLOCK_PREFIX = "blocks.";

    /** The name of per-layer {@code field} (a constant above) in block {@code layer}: {@code blocks.<layer>.<field>}. */
    public static String block(int layer, String field) {
        return BLOCK_PREFIX + layer + "." + field;
    }

    /** Every tensor name of block {@code layer} (with {@code ln0} in block 0, without the v-fields there). */
    public static List<String> names(int layer) {
        List<String> out = new ArrayList<>();
        if (layer == 0) {
            out.add(LN0_WEIGHT);
            out.add(LN0_BIAS);
        }
        for (String f : List.of(LN1_WEIGHT, LN1_BIAS, LN2_WEIGHT, LN2_BIAS)) out.add(block(layer, f));
        for (String f : ATT_MIXES) out.add(block(layer, f));
        for (String f : List.of(ATT_W0, ATT_W1, ATT_W2, ATT_A0, ATT_A1, ATT_A2)) out.add(block(layer, f));
        if (layer > 0) for (String f : ATT_V) out.add(block(layer, f));
        for (String f : List.of(ATT_G1, ATT_G2, ATT_K_K, ATT_K_A, ATT_R_K, ATT_RECEPTANCE, ATT_KEY, ATT_VALUE,
                ATT_OUTPUT, ATT_LN_X_WEIGHT, ATT_LN_X_BIAS, FFN_X_K, FFN_KEY, FFN_VALUE)) {
            out.add(block(layer, f));
        }
        return out;
    }

    /** Every tensor name of a checkpoint with {@code layers} blocks. */
    public static List<String> all(int layers) {
        List<String> out = new ArrayList<>();
        out.add(EMB);
        for (int i = 0; i < layers; i++) out.addAll(names(i));
        out.add(LN_OUT_WEIGHT);
        out.add(LN_OUT_BIAS);
        out.add(HEAD);
        return out;
    }

    /**
     * A random checkpoint of shape {@code cfg}, deterministic in {@code seed}: the demo and benchmark models' weights
     * (norms at identity, token-shift mixes in [0,1), decay biases in [-6,-1), projections N(0, 1/in), LoRAs
     * N(0, 0.1²)). Training starts from {@code Rwkv7Trainable.init} instead.
     */
    public static Map<String, HostTensor> randomInit(Rwkv7Config cfg, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int c = cfg.dim(), v = cfg.vocab(), f = cfg.ffnDim(), h = cfg.heads();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        put(t, EMB, normal(rnd, (long) v * c, 1.0), v, c);
        for (int i = 0; i < cfg.layers(); i++) {
            if (i == 0) {
                put(t, LN0_WEIGHT, fill(c, 1f), c);
                put(t, LN0_BIAS, fill(c, 0f), c);
            }
            put(t, block(i, LN1_WEIGHT), fill(c, 1f), c);
            put(t, block(i, LN1_BIAS), fill(c, 0f), c);
            put(t, block(i, LN2_WEIGHT), fill(c, 1f), c);
            put(t, block(i, LN2_BIAS), fill(c, 0f), c);
            for (String m : ATT_MIXES) {
                put(t, block(i, m), uniform(rnd, c, 0, 1), 1, 1, c);
            }
            put(t, block(i, ATT_W0), uniform(rnd, c, -6, -1), 1, 1, c);
            put(t, block(i, ATT_W1), normal(rnd, (long) c * cfg.decayLora(), 0.1), c, cfg.decayLora());
            put(t, block(i, ATT_W2), normal(rnd, (long) cfg.decayLora() * c, 0.1), cfg.decayLora(), c);
            put(t, block(i, ATT_A0), uniform(rnd, c, -1, 1), 1, 1, c);
            put(t, block(i, ATT_A1), normal(rnd, (long) c * cfg.aLora(), 0.1), c, cfg.aLora());
            put(t, block(i, ATT_A2), normal(rnd, (long) cfg.aLora() * c, 0.1), cfg.aLora(), c);
            put(t, block(i, ATT_V0), uniform(rnd, c, -1, 1), 1, 1, c);
            put(t, block(i, ATT_V1), normal(rnd, (long) c * cfg.valueLora(), 0.1), c, cfg.valueLora());
            put(t, block(i, ATT_V2), normal(rnd, (long) cfg.valueLora() * c, 0.1), cfg.valueLora(), c);
            put(t, block(i, ATT_G1), normal(rnd, (long) c * cfg.gateLora(), 0.1), c, cfg.gateLora());
            put(t, block(i, ATT_G2), normal(rnd, (long) cfg.gateLora() * c, 0.1), cfg.gateLora(), c);
            put(t, block(i, ATT_K_K), uniform(rnd, c, 0.5, 1.0), 1, 1, c);
            put(t, block(i, ATT_K_A), uniform(rnd, c, 0.5, 1.0), 1, 1, c);
            put(t, block(i, ATT_R_K), normal(rnd, c, 0.1), h, cfg.headSize());
            double sc = 1.0 / Math.sqrt(c);
            for (String m : new String[] {ATT_RECEPTANCE, ATT_KEY, ATT_VALUE, ATT_OUTPUT}) {
                put(t, block(i, m), normal(rnd, (long) c * c, sc), c, c);
            }
            put(t, block(i, ATT_LN_X_WEIGHT), fill(c, 1f), c);
            put(t, block(i, ATT_LN_X_BIAS), fill(c, 0f), c);
            put(t, block(i, FFN_X_K), uniform(rnd, c, 0, 1), 1, 1, c);
            put(t, block(i, FFN_KEY), normal(rnd, (long) f * c, sc), f, c);
            put(t, block(i, FFN_VALUE), normal(rnd, (long) c * f, 1.0 / Math.sqrt(f)), c, f);
        }
        put(t, LN_OUT_WEIGHT, fill(c, 1f), c);
        put(t, LN_OUT_BIAS, fill(c, 0f), c);
        put(t, HEAD, normal(rnd, (long) v * c, 1.0 / Math.sqrt(c)), v, c);
        return t;
    }

    private Rwkv7Schema() {}
}
