package io.engram.inference;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Chooses the next token from a vector of logits. One instance per generation request; not
 * thread-safe.
 *
 * <p>It holds the random generator (a {@link Pcg32} seeded with {@link SamplingParams#seed()}, so a
 * seeded request is reproducible across runs and JVMs; a random seed when none is given) and the
 * counts of the tokens generated so far, for the presence and frequency penalties.
 *
 * <p>{@link #sample(float[])} does, in this order:
 * <ol>
 *   <li>raw log-probabilities {@code log_softmax(logits)}, in double and numerically stable; they give
 *       the returned {@link SampledToken#logprob()} and {@link SampledToken#top()};</li>
 *   <li>penalties (OpenAI semantics): {@code l[t] -= frequency_penalty * count[t]
 *       + presence_penalty * (count[t] > 0 ? 1 : 0)};</li>
 *   <li>if {@code temperature == 0} or {@code top_k == 1}: argmax, ties to the lowest id (no random
 *       number is drawn);</li>
 *   <li>otherwise: divide by the temperature, softmax, keep the {@code top_k} best, then the smallest
 *       set whose cumulative probability is {@code >= top_p} (always at least one token), then drop
 *       tokens with {@code p < min_p * p_max}, renormalise and draw one token with the generator.
 *       Where a cut falls between tokens of equal probability, the lower ids are kept.</li>
 * </ol>
 *
 * <p>Non-finite logits: NaN counts as {@code -inf} (the token can never be chosen). If any logit is
 * {@code +inf}, the limit is taken: the {@code +inf} tokens share all the probability equally and
 * every other token gets none. If no logit is finite (all NaN or {@code -inf}),
 * {@link IllegalStateException} is thrown.
 *
 * <p>Cost per call is O(n) plus O(n log k) for {@code top_k = k} (a heap, no full sort); top-p
 * finds its cut with an expected-O(n) quickselect on the probability mass, not a sort. Work arrays
 * are kept between calls, so steady-state sampling allocates only the result. The vocabulary-wide loops
 * (widening, exp) run as vector code where the Vector API module is present ({@link SoftmaxVectorOps}).
 */
public final class Sampler {

    private static final double NEG_INF = Double.NEGATIVE_INFINITY;
    /** The vocabulary-wide loops run as vector code ({@link SoftmaxVectorOps}) when the module is present. */
    private static final boolean VECTOR = io.engram.model.ops.CpuKernels.VECTOR_API;

    private final SamplingParams params;
    private final Pcg32 rng;

    /** counts[t] = how many times token t was accepted; grown on demand. */
    private int[] counts = new int[0];
    /** Distinct accepted tokens, so that penalties touch only those. */
    private int[] seen = new int[16];
    private int seenSize;

    // Work arrays, reused between calls (the sampler is single-threaded).
    private double[] work = new double[0];
    private double[] weights = new double[0];
    private int[] cand = new int[0];
    private final int[] topHeap;
    private final NucleusFilter nucleus = new NucleusFilter();

    /**
     * Creates the sampler of one request.
     *
     * @param params the request's sampling settings
     */
    public Sampler(SamplingParams params) {
        this.params = Objects.requireNonNull(params, "params");
        long seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
        this.rng = new Pcg32(seed);
        this.topHeap = new int[params.logprobs()];
    }

    /**
     * Chooses the next token. Does not modify {@code logits}, and does not record the token: call
     * {@link #accept(int)} with the token that is actually generated.
     *
     * @param logits the model's raw logits for the next position, one per vocabulary entry
     * @return the chosen token, its raw log-probability and the requested top alternatives
     * @throws IllegalArgumentException if {@code logits} is empty
     * @throws IllegalStateException    if no logit is finite ("model produced no finite logits")
     */
    public SampledToken sample(float[] logits) {
        Objects.requireNonNull(logits, "logits");
        int n = logits.length;
        if (n == 0) {
            throw new IllegalArgumentException("logits must not be empty");
        }
        ensureCapacity(n);
        double[] x = work;

        boolean posInf = false;
        double max = NEG_INF;
        if (VECTOR) {
            max = SoftmaxVectorOps.widen(logits, x, n);
            posInf = max == Double.POSITIVE_INFINITY;
        } else for (int i = 0; i < n; i++) {
            float f = logits[i];
            if (f == Float.POSITIVE_INFINITY) {
                posInf = true;
                break;
            }
            double v = (f != f) ? NEG_INF : f;
            x[i] = v;
            if (v > max) {
                max = v;
            }
        }
        if (posInf) {
            for (int i = 0; i < n; i++) {
                x[i] = rawLogit(logits[i], true);
            }
            max = 0.0;
        }
        if (max == NEG_INF) {
            throw new IllegalStateException("model produced no finite logits");
        }

        // weights[i] keeps exp(x[i] - max) for reuse by draw() at temperature 1.
        double[] w = weights;
        double sum = 0.0;
        if (VECTOR) {
            sum = SoftmaxVectorOps.exp(x, w, n, max, 1.0);
        } else for (int i = 0; i < n; i++) {
            double e = Math.exp(x[i] - max);
            w[i] = e;
            sum += e;
        }
        double logSumExp = max + Math.log(sum);
        List<TokenLogprob> top = params.logprobs() > 0 ? topLogprobs(x, n, logSumExp) : List.of();

        applyPenalties(x, n);
        int chosen = params.isGreedy() ? argmax(x, n) : draw(x, n, max);
        return new SampledToken(chosen, rawLogit(logits[chosen], posInf) - logSumExp, top);
    }

    /**
     * Records a generated token for the presence and frequency penalties. Call it after
     * {@link #sample(float[])} with the token that is emitted; it may also be called for tokens the
     * caller forces.
     *
     * @param token the token id, {@code >= 0}
     * @throws IllegalArgumentException if {@code token} is negative
     */
    public void accept(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token id must be >= 0, got " + token);
        }
        if (token >= counts.length) {
            counts = Arrays.copyOf(counts, Math.max(token + 1, counts.length * 2));
        }
        if (counts[token]++ == 0) {
            if (seenSize == seen.length) {
                seen = Arrays.copyOf(seen, seenSize * 2);
            }
            seen[seenSize++] = token;
        }
    }

    private static double rawLogit(float f, boolean posInfMode) {
        if (posInfMode) {
            return f == Float.POSITIVE_INFINITY ? 0.0 : NEG_INF;
        }
        return (f != f) ? NEG_INF : f;
    }

    private void ensureCapacity(int n) {
        if (work.length < n) {
            work = new double[n];
            weights = new double[n];
            cand = new int[n];
        }
    }

    private List<TokenLogprob> topLogprobs(double[] x, int n, double logSumExp) {
        int c = selectTop(x, n, topHeap.length, topHeap);
        // c <= 20: insertion sort, best first (higher value, then lower id).
        for (int i = 1; i < c; i++) {
            int t = topHeap[i];
            int j = i - 1;
            while (j >= 0 && better(x, t, topHeap[j])) {
                topHeap[j + 1] = topHeap[j];
                j--;
            }
            topHeap[j + 1] = t;
        }
        List<TokenLogprob> out = new ArrayList<>(c);
        for (int i = 0; i < c; i++) {
            out.add(new TokenLogprob(topHeap[i], x[topHeap[i]] - logSumExp));
        }
        return out;
    }

    private void applyPenalties(double[] x, int n) {
        double freq = params.frequencyPenalty();
        double presence = params.presencePenalty();
        if (freq == 0.0 && presence == 0.0) {
            return;
        }
        for (int j = 0; j < seenSize; j++) {
            int t = seen[j];
            if (t < n) {
                x[t] -= freq * counts[t] + presence;
            }
        }
    }

    private static int argmax(double[] x, int n) {
        int best = -1;
        double bestValue = NEG_INF;
        for (int i = 0; i < n; i++) {
            if (x[i] > bestValue) {
                bestValue = x[i];
                best = i;
            }
        }
        return best;
    }

    /**
     * Temperature, top-k, top-p, min-p, then one draw. On entry weights[i] = exp(raw[i] - rawMax)
     * and x holds the penalised logits. Filters set dropped weights to zero.
     */
    private int draw(double[] x, int n, double rawMax) {
        double temperature = params.temperature();
        double[] w = weights;
        int k = params.topK();
        int size;
        int[] ids; // null: w is indexed by token id
        if (k > 0 && k < n) {
            size = selectTop(x, n, k, cand);
            Arrays.sort(cand, 0, size);
            ids = cand;
            double max = NEG_INF;
            for (int j = 0; j < size; j++) {
                max = Math.max(max, x[cand[j]]);
            }
            for (int j = 0; j < size; j++) {
                w[j] = Math.exp((x[cand[j]] - max) / temperature);
            }
        } else {
            size = n;
            ids = null;
            double max = NEG_INF;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, x[i]);
            }
            if (temperature == 1.0 && rawMax - max < 700.0) {
                // exp(x - max) = exp(raw - rawMax) * exp(rawMax - max), except where penalised
                if (rawMax != max) {
                    double scale = Math.exp(rawMax - max);
                    for (int i = 0; i < n; i++) {
                        w[i] *= scale;
                    }
                }
                if (params.frequencyPenalty() != 0.0 || params.presencePenalty() != 0.0) {
                    for (int j = 0; j < seenSize; j++) {
                        int t = seen[j];
                        if (t < n) {
                            w[t] = Math.exp(x[t] - max);
                        }
                    }
                }
            } else if (VECTOR) {
                SoftmaxVectorOps.exp(x, w, n, max, temperature);
            } else {
                for (int i = 0; i < n; i++) {
                    w[i] = Math.exp((x[i] - max) / temperature); // -inf gives 0
                }
            }
        }
        if (params.topP() < 1.0) {
            nucleus.apply(w, size, params.topP());
        }
        if (params.minP() > 0.0) {
            keepMinP(w, size);
        }

        double total = 0.0;
        for (int j = 0; j < size; j++) {
            total += w[j];
        }
        double u = rng.nextDouble() * total;
        double cumulative = 0.0;
        int last = -1;
        for (int j = 0; j < size; j++) {
            double wj = w[j];
            if (wj > 0.0) {
                cumulative += wj;
                last = j;
                if (u < cumulative) {
                    return ids == null ? j : ids[j];
                }
            }
        }
        return ids == null ? last : ids[last]; // only when rounding put u at the very end
    }

    /** Zeroes weights below min_p times the largest. */
    private void keepMinP(double[] w, int size) {
        double max = 0.0;
        for (int j = 0; j < size; j++) {
            max = Math.max(max, w[j]);
        }
        double threshold = params.minP() * max;
        for (int j = 0; j < size; j++) {
            if (w[j] < threshold) {
                w[j] = 0.0;
            }
        }
    }

    /** a ranks before b: higher value, or equal value and lower id. */
    private static boolean better(double[] v, int a, int b) {
        return v[a] > v[b] || (v[a] == v[b] && a < b);
    }

    /**
     * Puts the indices of the (at most) k best finite values of v[0..n) into heap[0..return), in no
     * particular order; ties go to the lower index. A min-heap on "better", O(n log k).
     */
    private static int selectTop(double[] v, int n, int k, int[] heap) {
        int size = 0;
        for (int i = 0; i < n; i++) {
            if (v[i] == NEG_INF) {
                continue;
            }
            if (size < k) {
                // sift up
                int pos = size++;
                while (pos > 0) {
                    int parent = (pos - 1) >>> 1;
                    if (!better(v, heap[parent], i)) {
                        break;
                    }
                    heap[pos] = heap[parent];
                    pos = parent;
                }
                heap[pos] = i;
            } else if (v[i] > v[heap[0]]) { // equal value: i has the higher id, so it is worse
                // replace the worst, sift down
                int pos = 0;
                while (true) {
                    int child = 2 * pos + 1;
                    if (child >= size) {
                        break;
                    }
                    if (child + 1 < size && better(v, heap[child], heap[child + 1])) {
                        child++;
                    }
                    if (!better(v, i, heap[child])) {
                        break;
                    }
                    heap[pos] = heap[child];
                    pos = child;
                }
                heap[pos] = i;
            }
        }
        return size;
    }
}
