package io.engram.inference;

/**
 * PCG32 (PCG-XSH-RR, 64-bit state, 32-bit output) after M. O'Neill, pcg-random.org.
 *
 * <p>Written out here rather than taken from the JDK so that a seeded generation is reproducible
 * across runs, JVM versions and vendors: the output depends only on this code.
 */
final class Pcg32 {

    private static final long MULTIPLIER = 6364136223846793005L;
    /** Stream selector used by {@link #Pcg32(long)}; the reference library's default stream. */
    static final long DEFAULT_STREAM = 0xda3e39cb94b95bdbL;

    private long state;
    private final long inc;

    /** Seeds like the reference {@code pcg32_srandom_r(rng, initState, initSeq)}. */
    Pcg32(long initState, long initSeq) {
        this.inc = (initSeq << 1) | 1L;
        this.state = 0L;
        nextInt();
        this.state += initState;
        nextInt();
    }

    /** Seeds with {@code seed} on the default stream. */
    Pcg32(long seed) {
        this(seed, DEFAULT_STREAM);
    }

    /** @return the next 32 random bits */
    int nextInt() {
        long old = state;
        state = old * MULTIPLIER + inc;
        int xorShifted = (int) (((old >>> 18) ^ old) >>> 27);
        int rot = (int) (old >>> 59);
        return Integer.rotateRight(xorShifted, rot);
    }

    /** @return a uniform double in [0, 1) with 53 random bits (two outputs) */
    double nextDouble() {
        long a = (nextInt() & 0xffffffffL) >>> 5; // 27 bits
        long b = (nextInt() & 0xffffffffL) >>> 6; // 26 bits
        return ((a << 26) | b) * 0x1.0p-53;
    }
}
