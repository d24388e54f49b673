package io.engram.model.demo;

import io.engram.model.retnet.RetNetConfig;
import io.engram.model.retnet.RetNetSchema;
import io.engram.weights.HostTensor;
import io.engram.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import tools.jackson.databind.json.JsonMapper;

/**
 * Writes a random-weight RetNet model folder (config.json + model.safetensors with torchscale's {@code RetNetDecoder}
 * state_dict names), deterministically from a seed: the benchmark model at the 0.1B shape, since real RetNet weights
 * cannot be downloaded here, and checkpoints of arbitrary shapes for tests. The {@code retnet_rel_pos} buffers are
 * torchscale's: {@code angle = 10000^-linspace(0,1,dk/2)} (pairs repeated), {@code decay = log(1 - 2^(-5-h))}.
 */
public final class RetNetDemoModel {

    /** A 0.1B-class RetNet: D=768, Dv=1536, 12 layers, 12 heads, FFN 1536, vocab 65536 (RWKV World), chunk 512. */
    public static final RetNetConfig RETNET_0_1B = new RetNetConfig(768, 1536, 12, 1536, 12,
            RetNetConfig.Activation.SWISH, true, false, 1e-6f, 65536, 512);

    private RetNetDemoModel() {}

    /**
     * Writes {@code config.json} and {@code model.safetensors} into {@code dir}; with the {@code rwkv-world}
     * tokenizer also the vocabulary file.
     */
    public static void write(Path dir, RetNetConfig cfg, long seed, String tokenizer) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve("model.safetensors.tmp");
        SafetensorsWriter.write(tmp, tensors(cfg, seed), Map.of("format", "pt", "engram", "random-weight RetNet, seed " + seed));
        Files.move(tmp, dir.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", "retnet");
        config.put("tokenizer", tokenizer);
        config.put("description", "RANDOM WEIGHTS (seed " + seed + ", " + cfg.layers() + " layers, width " + cfg.dim()
                + "): output is random text.");
        config.putAll(cfg.toMap());
        Files.writeString(dir.resolve("config.json"), JsonMapper.builder().build().writeValueAsString(config));
        if (tokenizer.equals("rwkv-world")) DemoModel.copyVocab(dir.resolve(DemoModel.VOCAB));
    }

    /** The checkpoint's tensors, by torchscale name. */
    public static Map<String, HostTensor> tensors(RetNetConfig cfg, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = cfg.dim(), dv = cfg.valueDim(), f = cfg.ffnDim(), v = cfg.vocab(), h = cfg.heads(), dk = cfg.keyDim();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        DemoModel.put(t, RetNetSchema.EMBED, DemoModel.normal(rnd, (long) v * d, Math.pow(d, -0.5)), v, d);
        if (cfg.layernormEmbedding()) DemoModel.put(t, RetNetSchema.EMBED_NORM, DemoModel.uniform(rnd, d, 0.5, 1.5), d);
        double sd = Math.pow(d, -0.5);
        for (int i = 0; i < cfg.layers(); i++) {
            for (String field : RetNetSchema.LAYER_FIELDS) {
                String name = RetNetSchema.layer(i, field);
                switch (field) {
                    case RetNetSchema.Q, RetNetSchema.K -> DemoModel.put(t, name, DemoModel.normal(rnd, (long) d * d, sd), d, d);
                    case RetNetSchema.V, RetNetSchema.G -> DemoModel.put(t, name, DemoModel.normal(rnd, (long) dv * d, sd), dv, d);
                    case RetNetSchema.OUT -> DemoModel.put(t, name, DemoModel.normal(rnd, (long) d * dv, Math.pow(dv, -0.5)), d, dv);
                    case RetNetSchema.FC1, RetNetSchema.GATE -> DemoModel.put(t, name, DemoModel.normal(rnd, (long) f * d, sd), f, d);
                    case RetNetSchema.FC2 -> DemoModel.put(t, name, DemoModel.normal(rnd, (long) d * f, Math.pow(f, -0.5)), d, f);
                    case RetNetSchema.RETENTION_NORM, RetNetSchema.FFN_NORM -> DemoModel.put(t, name, DemoModel.uniform(rnd, d, 0.5, 1.5), d);
                    default -> throw new IllegalStateException("no initialiser for " + field);
                }
            }
        }
        DemoModel.put(t, RetNetSchema.FINAL_NORM, DemoModel.uniform(rnd, d, 0.5, 1.5), d);
        DemoModel.put(t, RetNetSchema.OUTPUT, DemoModel.normal(rnd, (long) v * d, sd), v, d);
        float[] angle = new float[dk];
        for (int i = 0; i < dk / 2; i++) {
            double lin = dk / 2 == 1 ? 0 : (double) i / (dk / 2 - 1);
            angle[2 * i] = angle[2 * i + 1] = (float) (1.0 / Math.pow(10000, lin));
        }
        DemoModel.put(t, RetNetSchema.ANGLE, angle, dk);
        float[] decay = new float[h];
        for (int i = 0; i < h; i++) decay[i] = (float) Math.log(1 - Math.pow(2, -5 - i));
        DemoModel.put(t, RetNetSchema.DECAY, decay, h);
        return t;
    }
}
