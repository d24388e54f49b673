package io.engram.inference;

import java.util.Arrays;

/**
 * The top-p (nucleus) cut of {@link Sampler}, on a vector of non-negative weights. Reuses its work
 * arrays between calls; not thread-safe.
 */
final class NucleusFilter {

    /** Relative slack on the top-p comparison, so that rounding cannot pull in one extra token. */
    static final double TOP_P_SLACK = 1e-12;
    /** Offset from Math.getExponent (-1023 to 1023 for positive doubles) to a bucket index. */
    private static final int BUCKET_OFFSET = 1023;

    private final double[] bucketMass = new double[2047];
    private double[] scratch = new double[0];

    /**
     * Keeps in {@code w[0..size)} the smallest set of weights whose sum reaches {@code topP} of the
     * total (ties at the cut: lower positions first) and zeroes the rest. No sort: one pass buckets
     * the weights by binary exponent, whole buckets above and below the cut are kept or dropped, and
     * a quickselect on the mass (expected linear) places the cut inside its bucket.
     *
     * @param w    non-negative finite weights, changed in place
     * @param size number of weights
     * @param topP fraction of the mass to keep, in (0, 1); at 1 nothing is to be cut, so the caller
     *             skips the call (with the rounding slack a negligible tail could otherwise go)
     */
    void apply(double[] w, int size, double topP) {
        double[] mass = bucketMass;
        Arrays.fill(mass, 0.0);
        double total = 0.0;
        for (int j = 0; j < size; j++) {
            double v = w[j];
            if (v > 0.0) {
                int b = Math.getExponent(v) + BUCKET_OFFSET; // subnormals share the lowest bucket
                mass[b] += v;
                total += v;
            }
        }
        double target = topP * total * (1.0 - TOP_P_SLACK);
        double above = 0.0; // mass of the buckets above the cut bucket
        int cut = -1;
        for (int b = mass.length - 1; b >= 0; b--) {
            if (above + mass[b] >= target) {
                cut = b;
                break;
            }
            above += mass[b];
        }
        if (cut < 0) {
            return; // rounding: the whole mass is needed, keep everything
        }
        if (scratch.length < size) {
            scratch = new double[Math.max(size, 2 * scratch.length)];
        }
        double[] a = scratch;
        int len = 0;
        for (int j = 0; j < size; j++) {
            double v = w[j];
            if (v > 0.0 && Math.getExponent(v) + BUCKET_OFFSET == cut) {
                a[len++] = v;
            }
        }
        double threshold = 0.0; // within the cut bucket: keep > threshold, and `ties` equal to it
        int ties = Integer.MAX_VALUE;
        double acc = above; // mass known to be above the range [lo, hi)
        int lo = 0;
        int hi = len;
        while (lo < hi) { // lo == hi: rounding, keep the whole bucket
            double p = medianOfThree(a[lo], a[(lo + hi) >>> 1], a[hi - 1]);
            // three-way partition: [lo, gt) > p, [gt, lt) == p, [lt, hi) < p
            int gt = lo;
            int i = lo;
            int lt = hi;
            double greater = 0.0;
            while (i < lt) {
                double v = a[i];
                if (v > p) {
                    greater += v;
                    a[i++] = a[gt];
                    a[gt++] = v;
                } else if (v < p) {
                    a[i] = a[--lt];
                    a[lt] = v;
                } else {
                    i++;
                }
            }
            if (acc + greater >= target) {
                hi = gt; // the cut lies among the larger ones
                continue;
            }
            double withEqual = acc + greater;
            int taken = 0;
            int equal = lt - gt;
            while (taken < equal && withEqual < target) {
                withEqual += p;
                taken++;
            }
            if (withEqual >= target) {
                threshold = p;
                ties = taken;
                break;
            }
            acc = withEqual;
            lo = lt;
        }
        for (int j = 0; j < size; j++) {
            double v = w[j];
            if (v == 0.0) {
                continue;
            }
            int b = Math.getExponent(v) + BUCKET_OFFSET;
            if (b > cut || (b == cut && v > threshold)) {
                continue;
            }
            if (b == cut && v == threshold && ties > 0) {
                ties--;
            } else {
                w[j] = 0.0;
            }
        }
    }

    private static double medianOfThree(double a, double b, double c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }
}
