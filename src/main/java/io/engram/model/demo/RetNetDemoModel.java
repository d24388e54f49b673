package io.engram.model.demo;

import io.engram.model.retnet.RetNetConfig;
import io.engram.model.retnet.RetNetSchema;
import io.engram.weights.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
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
        SafetensorsWriter.write(tmp, RetNetSchema.randomInit(cfg, seed), Map.of("format", "pt", "engram", "random-weight RetNet, seed " + seed));
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
}
