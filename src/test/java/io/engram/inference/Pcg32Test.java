package io.engram.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Pcg32Test {

    @Test
    void matchesTheReferenceDemoOutput() {
        // pcg32_srandom_r(&rng, 42u, 54u) in O'Neill's pcg32-demo.c, "Round 1".
        Pcg32 rng = new Pcg32(42L, 54L);
        int[] expected = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
        for (int value : expected) {
            assertEquals(value, rng.nextInt());
        }
    }

    @Test
    void nextDoubleIsInUnitIntervalAndRoughlyUniform() {
        Pcg32 rng = new Pcg32(1L);
        int[] buckets = new int[10];
        int draws = 100_000;
        double sum = 0;
        for (int i = 0; i < draws; i++) {
            double d = rng.nextDouble();
            assertTrue(d >= 0.0 && d < 1.0, "out of [0,1): " + d);
            buckets[(int) (d * 10)]++;
            sum += d;
        }
        assertEquals(0.5, sum / draws, 0.005);
        for (int b : buckets) {
            assertEquals(0.1, b / (double) draws, 0.005);
        }
    }

    @Test
    void seedsSelectDifferentSequences() {
        assertNotEquals(new Pcg32(1L).nextDouble(), new Pcg32(2L).nextDouble());
        assertEquals(new Pcg32(-5L).nextDouble(), new Pcg32(-5L).nextDouble());
    }
}
