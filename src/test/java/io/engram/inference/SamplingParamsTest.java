package io.engram.inference;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class SamplingParamsTest {

    private static SamplingParams params(double t, double topP, int topK, double minP,
                                         double presence, double frequency, int logprobs) {
        return new SamplingParams(t, topP, topK, minP, presence, frequency, 7L, logprobs);
    }

    @Test
    void greedyIsTemperatureZeroWithNothingElse() {
        SamplingParams g = SamplingParams.greedy();
        assertEquals(0.0, g.temperature());
        assertEquals(1.0, g.topP());
        assertEquals(0, g.topK());
        assertEquals(0.0, g.minP());
        assertEquals(0.0, g.presencePenalty());
        assertEquals(0.0, g.frequencyPenalty());
        assertNull(g.seed());
        assertEquals(0, g.logprobs());
        assertTrue(g.isGreedy());
    }

    @Test
    void boundaryValuesAreAccepted() {
        assertDoesNotThrow(() -> params(0, 1, 0, 0, -2, -2, 0));
        assertDoesNotThrow(() -> params(100, Double.MIN_VALUE, Integer.MAX_VALUE, 1, 2, 2, 20));
        assertDoesNotThrow(() -> new SamplingParams(1, 1, 0, 0, 0, 0, null, 0));
    }

    @Test
    void outOfRangeValuesNameTheFieldAndTheRange() {
        List<Object[]> cases = List.of(
                new Object[] {(Executable) () -> params(-0.1, 1, 0, 0, 0, 0, 0), "temperature", ">= 0"},
                new Object[] {(Executable) () -> params(Double.NaN, 1, 0, 0, 0, 0, 0), "temperature", ">= 0"},
                new Object[] {(Executable) () -> params(Double.POSITIVE_INFINITY, 1, 0, 0, 0, 0, 0), "temperature", "finite"},
                new Object[] {(Executable) () -> params(1, 0, 0, 0, 0, 0, 0), "top_p", "(0, 1]"},
                new Object[] {(Executable) () -> params(1, 1.0001, 0, 0, 0, 0, 0), "top_p", "(0, 1]"},
                new Object[] {(Executable) () -> params(1, Double.NaN, 0, 0, 0, 0, 0), "top_p", "(0, 1]"},
                new Object[] {(Executable) () -> params(1, 1, -1, 0, 0, 0, 0), "top_k", ">= 0"},
                new Object[] {(Executable) () -> params(1, 1, 0, -0.01, 0, 0, 0), "min_p", "[0, 1]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 1.01, 0, 0, 0), "min_p", "[0, 1]"},
                new Object[] {(Executable) () -> params(1, 1, 0, Double.NaN, 0, 0, 0), "min_p", "[0, 1]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, 2.01, 0, 0), "presence_penalty", "[-2, 2]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, -2.01, 0, 0), "presence_penalty", "[-2, 2]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, 0, 2.5, 0), "frequency_penalty", "[-2, 2]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, 0, Double.NaN, 0), "frequency_penalty", "[-2, 2]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, 0, 0, -1), "logprobs", "[0, 20]"},
                new Object[] {(Executable) () -> params(1, 1, 0, 0, 0, 0, 21), "logprobs", "[0, 20]"});
        for (Object[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, (Executable) c[0]);
            assertTrue(e.getMessage().startsWith((String) c[1] + " "), e.getMessage());
            assertTrue(e.getMessage().contains((String) c[2]), e.getMessage());
        }
    }
}
