package io.engram.model.retnet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Activation;
import io.engram.model.ops.Nd;

/**
 * The feed-forward half of a RetNet block, torchscale's {@code GLU} after the pre-norm:
 * {@code x += fc2( act(fc1 h) * gate h )}, {@code h = RMS(x) * final_layer_norm.weight}, no biases.
 */
final class GluFeedForward {

    private final RetNetConfig cfg;
    private final NDArray norm, fc1, gate, fc2;

    GluFeedForward(NDManager m, RetNetConfig cfg, RetNetWeights.Layer w) {
        int d = cfg.dim(), f = cfg.ffnDim();
        this.cfg = cfg;
        norm = Nd.upload(m, w.ffnNorm, d);
        fc1 = Nd.linearWeight(m, w.fc1, f, d);   // [D,F]
        gate = Nd.linearWeight(m, w.gate, f, d); // [D,F]
        fc2 = Nd.linearWeight(m, w.fc2, d, f);   // [F,D]
    }

    /** @param x [T,D] the residual stream; returns the residual update [T,D]. */
    NDArray forward(NDArray x) {
        NDArray h = RmsNorm.apply(x, norm, cfg.eps());                     // [T,D]
        NDArray a = activation(h.matMul(fc1));                            // [T,F]
        return a.mul(h.matMul(gate)).matMul(fc2);                         // [T,D]
    }

    private NDArray activation(NDArray x) {
        return switch (cfg.activation()) {
            case SWISH -> x.mul(Activation.sigmoid(x));                                      // silu
            case GELU -> x.mul(x.mul((float) (1 / Math.sqrt(2))).erf().add(1f)).mul(0.5f);  // exact (erf) gelu
            case RELU -> Activation.relu(x);
        };
    }
}
