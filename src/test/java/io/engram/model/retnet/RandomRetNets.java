package io.engram.model.retnet;

import ai.djl.Device;
import io.engram.weights.InMemoryCheckpoint;

/** Random-weight RetNets of any shape, built in memory from {@link RetNetSchema#randomInit}. */
final class RandomRetNets {

    private RandomRetNets() {}

    static RetNetConfig config(int dim, int valueDim, int heads, int ffn, int layers, RetNetConfig.Activation act,
                               boolean noScaleEmbedding, boolean layernormEmbedding, int vocab, int chunk) {
        return new RetNetConfig(dim, valueDim, heads, ffn, layers, act, noScaleEmbedding, layernormEmbedding, 1e-6f, vocab, chunk);
    }

    /** @param chunkSize 0 = the config's */
    static RetNetModel model(RetNetConfig cfg, long seed, int chunkSize) {
        return new RetNetModel(RetNetWeights.read(new InMemoryCheckpoint(RetNetSchema.randomInit(cfg, seed)), cfg), Device.cpu(), chunkSize);
    }
}
