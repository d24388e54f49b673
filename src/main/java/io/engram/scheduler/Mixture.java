package io.engram.scheduler;

import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import java.util.Arrays;
import java.util.List;

/**
 * A mixture of documents (compose {@code "mixture"}): K component states read the same tokens as K rows of one
 * batched step, and the next token is drawn from their posterior-weighted mixture, the way retrieval-augmented
 * generation marginalises over passages (Lewis et al. 2020, "RAG-Token"):
 * <pre>
 *   log w_i   = log prior_i + sum_j log p(x_j | state_i, x_&lt;j)        every token read so far, prompt and generated
 *   p(x | ..) = sum_i w_i p(x | state_i, x_&lt;j)                         w normalised to sum 1
 * </pre>
 * which is the exact posterior over which document the text comes from. Everything is kept in log space in double
 * precision and re-normalised after every token (log-sum-exp), so nothing underflows over long prompts or many
 * components. Lives on the device thread while its sequence runs; read by others only after it has finished.
 */
public final class Mixture {

    private final ModelState[] states;
    /** Normalised log posterior weights, log w_i (sum of exp = 1); -inf for a component of prior weight 0. */
    private final double[] logW;
    /** Each component's next-token logits, or null before any are known (then the next token is not scored). */
    private float[][] logits;
    /** Each component's log-sum-exp of {@link #logits} (the log-softmax normaliser). */
    private double[] lse;
    /** Each component's softmax of {@link #logits}. */
    private double[][] probs;

    /**
     * @param states  the components (private copies: they are advanced in place)
     * @param prior   normalised prior weights, one per component
     * @param logits  each component's next-token logits, or null when some component has none
     */
    public Mixture(List<ModelState> states, double[] prior, float[][] logits) {
        if (states.isEmpty() || states.size() != prior.length) throw new IllegalArgumentException("components and weights differ");
        this.states = states.toArray(ModelState[]::new);
        this.logW = new double[prior.length];
        for (int i = 0; i < prior.length; i++) logW[i] = Math.log(prior[i]);
        normalise(logW);
        if (logits != null) stepped(logits);
    }

    public int size() {
        return states.length;
    }

    /** The component states, in the order of {@code states}: the rows of a batched step. */
    ModelState[] states() {
        return states;
    }

    /**
     * Scores the token every component is about to read: log w_i += log p(token | state_i), then re-normalises.
     * Does nothing while the components' logits are unknown (the first token after states without logits: a
     * constant factor for every component, so the posterior is unchanged).
     */
    public void observe(int token) {
        if (logits == null) return;
        double[] next = logW.clone();
        for (int i = 0; i < next.length; i++) next[i] += logits[i][token] - lse[i];
        if (normalise(next)) System.arraycopy(next, 0, logW, 0, next.length);
    }

    /** The components read a token: these are their new next-token logits (row i = component i). */
    public void stepped(float[][] rowLogits) {
        if (rowLogits.length != states.length) throw new IllegalArgumentException(rowLogits.length + " rows for " + states.length + " components");
        int v = rowLogits[0].length;
        if (probs == null || probs.length != rowLogits.length || probs[0].length != v) probs = new double[rowLogits.length][v];
        logits = rowLogits;
        lse = new double[rowLogits.length];
        for (int i = 0; i < rowLogits.length; i++) {
            // one pass of exp per component: softmax_i = exp(l - max) / sum, log-sum-exp = max + log(sum)
            float[] l = rowLogits[i];
            double max = Double.NEGATIVE_INFINITY;
            for (float x : l) if (x > max) max = x;
            double[] p = probs[i];
            double sum = 0;
            for (int t = 0; t < v; t++) sum += (p[t] = Math.exp(l[t] - max));
            lse[i] = max + Math.log(sum);
            double inv = 1 / sum;
            for (int t = 0; t < v; t++) p[t] *= inv;
        }
    }

    /**
     * The mixture's next-token log-probabilities, log sum_i w_i softmax(logits_i), as logits for the sampler
     * (softmax of them is the mixture; temperature and truncation then act on the mixture). Null when unknown.
     * The sum is taken in linear space: w and each softmax are at most 1 and the largest w_i is at least 1/K, so
     * only a token that every likely component gives less than about 1e-300 could underflow (to -inf).
     */
    public float[] mixtureLogits() {
        if (logits == null) return null;
        int v = logits[0].length, k = states.length;
        double[] mix = new double[v];
        for (int i = 0; i < k; i++) {
            double w = Math.exp(logW[i]);
            if (w == 0) continue;
            double[] p = probs[i];
            for (int t = 0; t < v; t++) mix[t] += w * p[t];
        }
        float[] out = new float[v];
        for (int t = 0; t < v; t++) out[t] = (float) Math.log(mix[t]);
        return out;
    }

    /** The normalised posterior weights, in the order of the components. */
    public double[] weights() {
        double[] w = new double[logW.length];
        for (int i = 0; i < w.length; i++) w[i] = Math.exp(logW[i]);
        return w;
    }

    /** The weighted mean of the components' current states under the posterior weights (what save_state stores). */
    public ModelState mean(LanguageModel model) {
        return model.combine(Arrays.asList(states), weights());
    }

    /** Subtracts log sum exp(x); returns false (leaving x unusable) when no entry is finite. */
    private static boolean normalise(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) if (v > max) max = v;
        if (!(max > Double.NEGATIVE_INFINITY) || Double.isNaN(max) || max == Double.POSITIVE_INFINITY) return false;
        double s = 0;
        for (double v : x) if (v != Double.NEGATIVE_INFINITY) s += Math.exp(v - max);
        double lse = max + Math.log(s);
        for (int i = 0; i < x.length; i++) x[i] -= lse;
        return true;
    }
}
