package io.engram.model.rwkv7;

/**
 * Per-token activations of one chunk on the CPU path, each {@code [rows, C]} row-major: the buffers that
 * {@link Rwkv7Cpu} and its {@link Rwkv7Projections} pass between them. Allocated once per model, for the largest
 * chunk; not thread-safe (nor is the model).
 */
final class Rwkv7Activations {

    final int rows;
    /** The residual stream. */
    final float[] x;
    /** LayerNorm output of the current block (ln1 or ln2). */
    final float[] ln;
    /** Token-shift mixes {@code x + (x_prev - x) * mix} for r, w, k, v, a, g (xk is reused by the channel mix). */
    final float[] xr, xw, xk, xv, xa, xg;
    /** Time-mix vectors: receptance, key, value, decay, in-context rate, gate, value-residual mix. */
    final float[] r, k, v, w, a, g, vMix;
    /** The WKV rule's {@code a = -kk} and {@code b = kk * a}. */
    final float[] negKk, kkA;
    /** Layer 0's values, mixed into every later layer. */
    final float[] vFirst;
    /** The time-mix output before {@code Wo}, and a block's residual update. */
    final float[] y, dx;

    Rwkv7Activations(Rwkv7Config cfg, int rows) {
        this.rows = rows;
        int n = rows * cfg.dim();
        x = new float[n]; ln = new float[n];
        xr = new float[n]; xw = new float[n]; xk = new float[n]; xv = new float[n]; xa = new float[n]; xg = new float[n];
        r = new float[n]; k = new float[n]; v = new float[n]; w = new float[n]; a = new float[n]; g = new float[n];
        vMix = new float[n]; negKk = new float[n]; kkA = new float[n]; vFirst = new float[n];
        y = new float[n]; dx = new float[n];
    }
}
