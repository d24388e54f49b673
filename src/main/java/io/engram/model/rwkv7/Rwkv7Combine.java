package io.engram.model.rwkv7;

import io.engram.model.ModelState;
import java.util.List;

/** Weighted mean of RWKV-7 states: plain and elementwise over every tensor, since the state has no position. */
final class Rwkv7Combine {

    private Rwkv7Combine() {}

    static Rwkv7State mean(Rwkv7Config cfg, List<ModelState> states, double[] weights) {
        Rwkv7State out = new Rwkv7State(cfg);
        long pos = 0;
        for (int s = 0; s < states.size(); s++) {
            Rwkv7State in = (Rwkv7State) states.get(s);
            float wt = (float) weights[s];
            for (int l = 0; l < cfg.layers(); l++) {
                axpy(wt, in.attXPrev[l], out.attXPrev[l]);
                axpy(wt, in.attKv[l], out.attKv[l]);
                axpy(wt, in.ffnXPrev[l], out.ffnXPrev[l]);
            }
            pos = Math.max(pos, in.position);
        }
        out.position = pos;
        return out;
    }

    private static void axpy(float a, float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) y[i] += a * x[i];
    }
}
