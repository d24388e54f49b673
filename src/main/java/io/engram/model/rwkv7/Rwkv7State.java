package io.engram.model.rwkv7;

import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * RWKV-7 recurrent state: per layer, ChatRWKV's {@code state[3i+0..2]}.
 * <ul>
 *   <li>{@code att_x_prev [C]}: the ln1 output of the previous token (token shift of the time mix);</li>
 *   <li>{@code att_kv [H,N,N]}: the WKV matrix {@code S[h,i,j]}, i a value channel, j a key channel; always fp32;</li>
 *   <li>{@code ffn_x_prev [C]}: the ln2 output of the previous token (token shift of the channel mix).</li>
 * </ul>
 * The zero state is all zeros. {@code v_first} is not state: it lives within one step.
 */
public final class Rwkv7State implements ModelState {

    public static final String ARCHITECTURE = "rwkv7";

    final float[][] attXPrev;
    final float[][] attKv;
    final float[][] ffnXPrev;
    long position;

    Rwkv7State(Rwkv7Config cfg) {
        int l = cfg.layers();
        attXPrev = new float[l][cfg.dim()];
        attKv = new float[l][cfg.heads() * cfg.headSize() * cfg.headSize()];
        ffnXPrev = new float[l][cfg.dim()];
    }

    private Rwkv7State(float[][] a, float[][] kv, float[][] f, long position) {
        this.attXPrev = a;
        this.attKv = kv;
        this.ffnXPrev = f;
        this.position = position;
    }

    @Override
    public String architecture() {
        return ARCHITECTURE;
    }

    public int layers() {
        return attXPrev.length;
    }

    public float[] attXPrev(int layer) {
        return attXPrev[layer];
    }

    public float[] attKv(int layer) {
        return attKv[layer];
    }

    public float[] ffnXPrev(int layer) {
        return ffnXPrev[layer];
    }

    @Override
    public List<StateTensor> tensors() {
        List<StateTensor> out = new ArrayList<>(3 * layers());
        int c = attXPrev[0].length;
        for (int i = 0; i < layers(); i++) {
            out.add(new StateTensor(i + ".att_x_prev", new int[] {c}, attXPrev[i]));
            out.add(new StateTensor(i + ".att_kv", kvShape(c, attKv[i].length), attKv[i]));
            out.add(new StateTensor(i + ".ffn_x_prev", new int[] {c}, ffnXPrev[i]));
        }
        return out;
    }

    /** [H,N,N] from C = H*N and H*N*N: N = (H*N*N)/C. */
    private static int[] kvShape(int c, int kvLen) {
        int n = kvLen / c;
        return new int[] {c / n, n, n};
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public Rwkv7State copy() {
        return new Rwkv7State(deep(attXPrev), deep(attKv), deep(ffnXPrev), position);
    }

    private static float[][] deep(float[][] a) {
        float[][] out = new float[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }
}
