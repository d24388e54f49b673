package io.engram.model.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;

/**
 * Small NDArray helpers shared by the model blocks.
 *
 * <p>Ownership rule: DJL attaches a result to the manager of its left operand. Every helper here keeps the
 * activation on the left, so results belong to the per-call scope and never to the long-lived weights' manager.
 */
public final class Nd {

    private Nd() {}

    /** Uploads a row-major host matrix {@code [out,in]} as its transpose {@code [in,out]}, ready for {@code x @ W^T}. */
    public static NDArray linearWeight(NDManager m, float[] w, int out, int in) {
        float[] t = new float[w.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) t[i * out + o] = w[o * in + i];
        }
        return m.create(t, new Shape(in, out));
    }

    /**
     * A float constant as a 0-d tensor that libtorch allocates and owns: the way to use a constant in code that is
     * differentiated ({@code Rwkv7Trainable}, {@code RetNetTrainable}, {@code ChunkedWkv}).
     *
     * <p>There, never pass a {@code Number} to {@code mul}, {@code div}, {@code maximum} or any other NDArray
     * method. DJL's PyTorch engine wraps the number in a tensor over a direct {@code ByteBuffer}, runs the
     * operation and closes that tensor at once, dropping the last Java reference to the buffer. Autograd keeps the
     * tensor for the backward pass (the gradient of {@code x * c} is {@code g * c}), so a garbage collection
     * between forward and backward frees memory that the backward pass then reads. The result is gradients that
     * differ from run to run, finite or not (found 2026-12-08; docs/COMPOSABLE_MEMORY.md, "Caveats"). A tensor made
     * here is reference-counted by libtorch, so autograd's reference keeps it alive. {@code ArchitectureTest}
     * enforces the rule.
     */
    public static NDArray constant(NDManager m, float value) {
        return m.full(new Shape(), value);                                          // [] 0-d, broadcasts
    }

    /** Uploads a host tensor as-is. */
    public static NDArray upload(NDManager m, float[] data, long... shape) {
        return m.create(data, new Shape(shape));
    }

    /** {@code LN(x) * w + b} over the last axis. */
    public static NDArray layerNorm(NDArray x, NDArray w, NDArray b, float eps) {
        return LayerNorm.layerNorm(x, new Shape(w.getShape().get(0)), w, b, eps).singletonOrThrow();
    }

    /**
     * Token shift for a chunk: row t of the result is row t-1 of {@code x}, and row 0 is {@code prev}.
     *
     * @param prev [1,C] the previous token's value (from the state)
     * @param x    [T,C]
     * @return [T,C]
     */
    public static NDArray shift(NDArray prev, NDArray x) {
        long t = x.getShape().get(0);
        if (t == 1) return prev;
        return NDArrays.concat(new NDList(prev, x.get("0:" + (t - 1))), 0);
    }

    /** {@code x + (prev - x) * mix}: v7's lerp toward the previous token. */
    public static NDArray lerp(NDArray x, NDArray prev, NDArray mix) {
        return prev.sub(x).mul(mix).add(x);
    }
}
