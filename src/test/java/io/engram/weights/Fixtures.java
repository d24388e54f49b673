package io.engram.weights;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Locates the read-only reference files in {@code ../shared/oracle}. */
final class Fixtures {

    private Fixtures() {
    }

    static Path sharedDir() {
        return Path.of(System.getProperty("engram.shared-dir", "../shared"));
    }

    static Path oracle(String file) {
        Path p = sharedDir().resolve("oracle").resolve(file);
        assertTrue(Files.isRegularFile(p), "missing fixture " + p.toAbsolutePath());
        return p;
    }

    /** float to bfloat16 bits, round to nearest even (inputs here are finite). */
    static short toBf16RoundNearestEven(float f) {
        int bits = Float.floatToRawIntBits(f);
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }
}
