package io.engram.model.retnet;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * RetNet recurrent state: torchscale's {@code incremental_state} without the batch dimension.
 * <ul>
 *   <li>per layer {@code kv [H, dv, dk]}: {@code prev_key_value}, the value index first. It is stored already
 *       divided by {@code sqrt(scale)}: after T tokens from the zero state,
 *       {@code kv = Σ_j γ^(T-1-j) v_j k̃_j^T / sqrt(scale)}, with k̃_j the key rotated by its absolute position j;</li>
 *   <li>per layer {@code scale [H]}: the normaliser, {@code (1-γ^T)/(1-γ)} after T tokens;</li>
 *   <li>one {@code pos} for the model ({@link #position()}): the number of tokens read, i.e. the position of the
 *       next token. The keys inside {@code kv} carry their rotary phase, so a state means something only with it.</li>
 * </ul>
 * The all-zero state (kv = 0, scale = 0, pos = 0) is torchscale's empty state.
 */
public final class RetNetState implements ModelState {

    public static final String ARCHITECTURE = "retnet";

    final int heads, valueDim, keyDim;
    /** {@code [L][H*dv*dk]}, row-major {@code [H, dv, dk]}. */
    final float[][] kv;
    /** {@code [L][H]}. */
    final float[][] scale;
    long pos;

    RetNetState(RetNetConfig cfg) {
        this.heads = cfg.heads();
        this.valueDim = cfg.headValueDim();
        this.keyDim = cfg.keyDim();
        this.kv = new float[cfg.layers()][heads * valueDim * keyDim];
        this.scale = new float[cfg.layers()][heads];
    }

    private RetNetState(RetNetState o) {
        this.heads = o.heads;
        this.valueDim = o.valueDim;
        this.keyDim = o.keyDim;
        this.kv = deep(o.kv);
        this.scale = deep(o.scale);
        this.pos = o.pos;
    }

    @Override
    public String architecture() {
        return ARCHITECTURE;
    }

    public int layers() {
        return kv.length;
    }

    /** Live view of layer {@code l}'s {@code kv [H, dv, dk]}. */
    public float[] kv(int l) {
        return kv[l];
    }

    /** Live view of layer {@code l}'s {@code scale [H]}. */
    public float[] scale(int l) {
        return scale[l];
    }

    @Override
    public List<StateTensor> tensors() {
        List<StateTensor> out = new ArrayList<>(2 * layers());
        for (int l = 0; l < layers(); l++) {
            out.add(new StateTensor(l + ".kv", new int[] {heads, valueDim, keyDim}, kv[l]));
            out.add(new StateTensor(l + ".scale", new int[] {heads}, scale[l]));
        }
        return out;
    }

    @Override
    public long position() {
        return pos;
    }

    @Override
    public RetNetState copy() {
        return new RetNetState(this);
    }

    private static float[][] deep(float[][] a) {
        float[][] out = new float[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }
}
