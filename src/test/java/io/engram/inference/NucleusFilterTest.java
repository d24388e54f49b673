package io.engram.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class NucleusFilterTest {

    /** Brute force: sort by (weight desc, position asc), keep until the mass reaches top_p. */
    private static double[] reference(double[] w, double topP) {
        double total = 0;
        for (double v : w) {
            total += v;
        }
        Integer[] order = IntStream.range(0, w.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -w[i]).thenComparingInt(i -> i));
        double[] out = new double[w.length];
        double cumulative = 0;
        for (int i : order) {
            if (w[i] == 0) {
                break;
            }
            out[i] = w[i];
            cumulative += w[i];
            if (cumulative >= topP * total * (1 - NucleusFilter.TOP_P_SLACK)) {
                break;
            }
        }
        return out;
    }

    private static double[] randomWeights(Random r, int n, int kind) {
        double[] w = new double[n];
        for (int i = 0; i < n; i++) {
            switch (kind) {
                case 0 -> w[i] = r.nextDouble();                                   // one or two exponents
                case 1 -> w[i] = Math.exp(-r.nextDouble() * 60);                   // many exponents
                case 2 -> w[i] = Math.exp(-0.5 * r.nextInt(12));                   // heavy ties
                case 3 -> w[i] = r.nextInt(4) == 0 ? 0.0 : Math.exp(-r.nextInt(40)); // zeros and ties
                case 4 -> w[i] = 1.0;                                              // all equal
                case 5 -> w[i] = i == 0 ? 1.0 : Double.MIN_VALUE * (1 + r.nextInt(3)); // subnormal tail
                default -> w[i] = Math.exp(r.nextGaussian() * 8);                  // wide, peaked
            }
        }
        return w;
    }

    @Test
    void keepsExactlyTheBruteForceNucleus() {
        Random r = new Random(42);
        NucleusFilter filter = new NucleusFilter();
        double[] topPs = {1e-9, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999, 0.999999};
        int nonTrivial = 0;
        for (int trial = 0; trial < 1400; trial++) {
            int kind = trial % 7;
            int n = 1 + r.nextInt(trial < 700 ? 12 : 3000);
            double[] w = randomWeights(r, n, kind);
            double topP = topPs[r.nextInt(topPs.length)];
            double[] expected = reference(w, topP);
            double[] got = w.clone();
            filter.apply(got, n, topP);
            assertArrayEquals(expected, got,
                    "kind " + kind + " n " + n + " top_p " + topP + " w " + (n < 20 ? Arrays.toString(w) : ""));
            long kept = Arrays.stream(got).filter(v -> v > 0).count();
            long positive = Arrays.stream(w).filter(v -> v > 0).count();
            if (kept > 1 && kept < positive) {
                nonTrivial++;
            }
        }
        assertTrue(nonTrivial > 500, "too few cases cut inside the distribution: " + nonTrivial);
    }

    @Test
    void onlyTheGivenPrefixIsTouched() {
        NucleusFilter filter = new NucleusFilter();
        double[] w = {0.1, 0.2, 0.3, 0.4, 9.0, 9.0};
        filter.apply(w, 4, 0.5);
        assertArrayEquals(new double[] {0, 0, 0.3, 0.4, 9.0, 9.0}, w);
    }
}
