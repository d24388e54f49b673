package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;

/** torchscale's {@code RMSNorm}: {@code x / sqrt(mean(x²) + eps) * w} over the last axis; no weight in the per-head norm. */
final class RmsNorm {

    private RmsNorm() {}

    /**
     * @param x [..., N]
     * @param w [N], or null for the weightless per-head norm of the retention output
     */
    static NDArray apply(NDArray x, NDArray w, float eps) {
        NDArray y = x.div(x.square().mean(new int[] {-1}, true).add(eps).sqrt()); // [..., N]
        return w == null ? y : y.mul(w);
    }
}
