package io.engram.model.rwkv7;

/**
 * The RWKV-7 (x070) checkpoint's tensor names, as written by BlinkDL RWKV-LM ({@code RWKV-v7/train_temp}).
 * Meant to be the one home of these strings (tracker issue 17); so far the non-layer names live here.
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

    private Rwkv7Schema() {}
}
