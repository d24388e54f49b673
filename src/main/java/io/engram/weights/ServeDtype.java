package io.engram.weights;

import java.util.Arrays;

/**
 * The format the CPU decode kernels read a model's large matrices in ({@code serve_dtype} in config.json,
 * {@code engram.models.<id>.serve-dtype}, {@code engram.serve-dtype}). Decode reads every weight once per token,
 * so fewer bytes per weight is faster in proportion; the arithmetic stays float32.
 */
public enum ServeDtype {
    /** 4 bytes a weight: exactly today's numbers. */
    FLOAT32("float32"),
    /** 2 bytes: the upper half of the float32 (round to nearest even), widened in registers by a shift. */
    BFLOAT16("bfloat16"),
    /** 1 byte + a float32 scale per group of {@link #INT8_GROUP} weights of a row: symmetric, round to nearest. */
    INT8("int8");

    /** Weights sharing one int8 scale, along a row (measured against per-row scales in docs/PERFORMANCE.md). */
    public static final int INT8_GROUP = 64;

    public final String id;

    ServeDtype(String id) {
        this.id = id;
    }

    /** Parses a setting; {@code where} names it in the error (e.g. {@code "engram.serve-dtype"}). */
    public static ServeDtype parse(String value, String where) {
        for (ServeDtype d : values()) {
            if (d.id.equals(value)) return d;
        }
        throw new IllegalArgumentException(where + " is '" + value + "': must be one of "
                + Arrays.stream(values()).map(d -> d.id).toList());
    }

    @Override
    public String toString() {
        return id;
    }
}
