package io.engram.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.engram.weights.HostTensor;
import java.util.List;
import java.util.Map;

/**
 * A recurrent language model whose forward pass is differentiable (DJL autograd on the PyTorch engine), batched, and
 * starts from a given state, so that a loss can flow back through a document's read, a weighted mean of states and
 * the read of a question. The equations are the serving models' ({@code io.engram.model.rwkv7},
 * {@code io.engram.model.retnet}); a test checks that both give the same logits and states on the same weights.
 *
 * <p>Parameters are named by the official checkpoint tensor names, so {@link #checkpoint()} is a checkpoint the
 * server loads as it is.
 */
public interface TrainableModel extends AutoCloseable {

    /** "rwkv7" or "retnet". */
    String architecture();

    int vocabSize();

    /** The trainable tensors, by checkpoint name, each a leaf with {@code requiresGradient}. Iteration order is fixed. */
    Map<String, NDArray> parameters();

    /** The zero state for {@code batch} sequences, in {@code m}. */
    TrainState zeroState(NDManager m, int batch);

    /**
     * Reads {@code tokens} ({@code [B,T]}, int32) on from {@code state}.
     *
     * @return the logits after every token {@code [B,T,V]} and the state after the last token
     */
    Step forward(NDArray tokens, TrainState state);

    /** The output of {@link #forward}. */
    record Step(NDArray logits, TrainState state) {}

    /**
     * The weighted mean of groups of states, as Engram combines states ({@code LanguageModel.combine}): row
     * {@code b*groups + i} of {@code states} is the i-th member of group b; the result has {@code batch/groups} rows.
     * All rows must be at the same position. Differentiable in every member.
     */
    TrainState mean(TrainState states, int groups, float[] weights);

    /** The current weights as a checkpoint (official tensor names, float32), as the server loads it. */
    Map<String, HostTensor> checkpoint();

    /** Keys and values for the model folder's {@code config.json} besides architecture and tokenizer. */
    Map<String, Object> config();

    @Override
    void close();

    /**
     * A batch of recurrent states: per-model tensors with the batch on axis 0 (possibly part of an autograd graph),
     * plus the common position. Models may keep data-independent parts (RetNet's scale) as host values.
     */
    record TrainState(List<NDArray> tensors, long position, float[][] host) {}
}
