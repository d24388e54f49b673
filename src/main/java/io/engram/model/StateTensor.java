package io.engram.model;

import java.util.Arrays;

/**
 * One named tensor of a recurrent state, as a plain Java value (row-major float32).
 * States leave the native (NDArray) world as these, so they can be stored, hashed, averaged and encoded.
 *
 * @param name  the state tensor's name within its model, e.g. {@code 3.att_kv} (layer 3)
 * @param shape the tensor's shape, e.g. {@code [H, N, N]}
 * @param data  row-major values; {@code data.length} equals the product of {@code shape}
 */
public record StateTensor(String name, int[] shape, float[] data) {
    public StateTensor {
        long n = 1;
        for (int d : shape) n *= d;
        if (n != data.length) {
            throw new IllegalArgumentException("state tensor " + name + " has shape " + Arrays.toString(shape)
                    + " but " + data.length + " values");
        }
    }
}
