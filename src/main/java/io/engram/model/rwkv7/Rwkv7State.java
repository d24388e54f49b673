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
    /**
     * Set while an NDArray-path model keeps this state on its device between calls (see {@link ResidentStates}):
     * the device copy is then the current one and the arrays above are stale. Every public read goes through
     * {@link #sync()} first, which brings the state home and frees the device copy; the state thus never
     * holds native memory once it leaves the model.
     */
    private Resident resident;

    /** A device copy of a state. */
    interface Resident {
        /** Writes the device copy into {@code s}'s arrays and frees it. */
        void restore(Rwkv7State s);
    }

    /** Brings a device-resident state back to its arrays (a no-op when it is not resident). */
    synchronized void sync() {
        if (resident == null) return;
        Resident r = resident;
        resident = null;
        r.restore(this);
    }

    /** Takes the device copy for a forward pass (the arrays stay stale until a new one is given back). */
    synchronized Resident takeResident() {
        Resident r = resident;
        resident = null;
        return r;
    }

    synchronized void resident(Resident r) {
        resident = r;
    }

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
        sync();
        return attXPrev[layer];
    }

    public float[] attKv(int layer) {
        sync();
        return attKv[layer];
    }

    public float[] ffnXPrev(int layer) {
        sync();
        return ffnXPrev[layer];
    }

    @Override
    public List<StateTensor> tensors() {
        sync();
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
        sync();
        return new Rwkv7State(deep(attXPrev), deep(attKv), deep(ffnXPrev), position);
    }

    private static float[][] deep(float[][] a) {
        float[][] out = new float[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }
}
