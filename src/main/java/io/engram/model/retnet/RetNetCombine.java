package io.engram.model.retnet;

import io.engram.model.ModelState;
import java.util.List;

/**
 * Weighted mean of RetNet states, by Engram's convention ({@code shared/oracle/README.md}, "Engram's conventions"):
 * every state is first re-based to the common position P = max(pos_i), by rotating its {@code kv} along the key
 * axis by (P - pos_i)·θ, so that every document reads as if it ended just before the next token; then {@code kv}
 * and {@code scale} are averaged with the weights, and pos = P. A pure function: the inputs are not modified.
 */
final class RetNetCombine {

    private RetNetCombine() {}

    /** @param weights already normalised to sum 1 */
    static RetNetState mean(RetNetConfig cfg, Rotary rotary, List<ModelState> states, double[] weights) {
        if (states.size() != weights.length) {
            throw new IllegalArgumentException(states.size() + " states but " + weights.length + " weights");
        }
        long p = 0;
        for (ModelState s : states) p = Math.max(p, s.position());
        int layers = cfg.layers(), h = cfg.heads(), dv = cfg.headValueDim();
        int kvLen = h * dv * cfg.keyDim();
        double[][] kv = new double[layers][kvLen], scale = new double[layers][h];
        for (int i = 0; i < states.size(); i++) {
            RetNetState in = (RetNetState) states.get(i);
            double w = weights[i];
            for (int l = 0; l < layers; l++) {
                float[] rebased = in.kv[l].clone();
                rotary.rebase(rebased, h, dv, p - in.pos);                 // as if read ending at P
                for (int j = 0; j < kvLen; j++) kv[l][j] += w * rebased[j];
                for (int j = 0; j < h; j++) scale[l][j] += w * in.scale[l][j];
            }
        }
        RetNetState out = new RetNetState(cfg);
        for (int l = 0; l < layers; l++) {
            for (int j = 0; j < kvLen; j++) out.kv[l][j] = (float) kv[l][j];
            for (int j = 0; j < h; j++) out.scale[l][j] = (float) scale[l][j];
        }
        out.pos = p;
        return out;
    }
}
