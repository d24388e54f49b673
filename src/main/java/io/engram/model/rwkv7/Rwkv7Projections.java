package io.engram.model.rwkv7;

/**
 * The token-wise products of an RWKV-7 block for rows {@code [0, t)} of a {@link Rwkv7Activations}: everything a
 * token needs that does not depend on the other tokens, and nothing that is only elementwise. {@link Rwkv7Cpu}
 * holds the equations and calls these; the implementations differ only in how they multiply:
 * {@link HostProjections} streams the weights through Java kernels (one token: decode), {@link DjlProjections}
 * runs each product as one batched {@code [t,C] x [C,C]} DJL product (a chunk of a document).
 */
interface Rwkv7Projections extends AutoCloseable {

    /**
     * The time-mix inputs of layer {@code l}, from the token-shifted mixes {@code xr, xw, xk, xv, xa, xg}:
     * <pre>
     *   r = x_r Wr^T    k = x_k Wk^T    v = x_v Wv^T
     *   w = tanh(x_w w1) w2      a = x_a a1 a2      g = sigmoid(x_g g1) g2      vMix = x_v v1 v2  (l > 0)
     * </pre>
     * {@code w}, {@code a} and {@code vMix} are the LoRA outputs before their bias and outer activation.
     */
    void timeMixIn(int l, int t, Rwkv7Activations z);

    /** {@code dx = y Wo^T}. */
    void timeMixOut(int l, int t, Rwkv7Activations z);

    /** Channel mix: {@code dx = relu(xk Wkey^T)^2 Wvalue^T}. */
    void channelMix(int l, int t, Rwkv7Activations z);

    @Override
    default void close() {}
}
