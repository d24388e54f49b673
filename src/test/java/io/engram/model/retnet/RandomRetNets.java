package io.engram.model.retnet;

import ai.djl.Device;
import io.engram.model.demo.RetNetDemoModel;
import io.engram.weights.Checkpoint;
import io.engram.weights.HostTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Random-weight RetNets of any shape, built in memory from {@link RetNetDemoModel#tensors}. */
final class RandomRetNets {

    private RandomRetNets() {}

    static RetNetConfig config(int dim, int valueDim, int heads, int ffn, int layers, RetNetConfig.Activation act,
                               boolean noScaleEmbedding, boolean layernormEmbedding, int vocab, int chunk) {
        return new RetNetConfig(dim, valueDim, heads, ffn, layers, act, noScaleEmbedding, layernormEmbedding, 1e-6f, vocab, chunk);
    }

    /** @param chunkSize 0 = the config's */
    static RetNetModel model(RetNetConfig cfg, long seed, int chunkSize) {
        return new RetNetModel(RetNetWeights.read(new InMemory(RetNetDemoModel.tensors(cfg, seed)), cfg), Device.cpu(), chunkSize);
    }

    /** A {@link Checkpoint} over tensors held in memory. */
    record InMemory(Map<String, HostTensor> tensors) implements Checkpoint {
        @Override
        public Set<String> names() {
            return new TreeSet<>(tensors.keySet());
        }

        @Override
        public boolean contains(String name) {
            return tensors.containsKey(name);
        }

        @Override
        public HostTensor get(String name) {
            HostTensor t = tensors.get(name);
            if (t == null) throw new io.engram.weights.CheckpointException("missing tensor '" + name + "' in memory");
            return t;
        }

        @Override
        public Map<String, String> metadata() {
            return Map.of();
        }

        @Override
        public List<Path> files() {
            return List.of(Path.of("<in memory>"));
        }

        @Override
        public void close() {}
    }
}
