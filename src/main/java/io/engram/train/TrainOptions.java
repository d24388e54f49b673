package io.engram.train;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything a training run depends on; with the seed, a run is reproducible, and a resumed run continues the
 * same example stream.
 *
 * @param arch             {@code rwkv7} or {@code retnet}
 * @param objective        plain or composable
 * @param steps            optimiser steps in all
 * @param batch            examples per step
 * @param lr               peak learning rate (after warm-up; cosine decay to {@code lr/10})
 * @param warmup           linear warm-up steps
 * @param clip             global gradient-norm clip
 * @param seed             initialisation and example stream
 * @param layers           blocks
 * @param dim              model width
 * @param headSize         RWKV-7 head size / RetNet key dimension per head
 * @param factsPerDocument facts in each document
 * @param documents        group sizes to draw from: each step reads groups of this many documents
 * @param out              the model folder to write (and resume from); default {@code runs/<arch>-<objective>}
 * @param checkpointEvery  steps between checkpoints
 */
public record TrainOptions(String arch, Objective objective, int steps, int batch, float lr, int warmup, float clip,
                           long seed, int layers, int dim, int headSize, int factsPerDocument, int[] documents,
                           Path out, int checkpointEvery) {

    public TrainOptions {
        if (!arch.equals("rwkv7") && !arch.equals("retnet")) throw new IllegalArgumentException("--arch must be rwkv7 or retnet, got " + arch);
        if (steps <= 0 || batch <= 0 || layers <= 0 || dim <= 0 || factsPerDocument <= 0 || documents.length == 0) {
            throw new IllegalArgumentException("steps, batch, layers, dim, facts and documents must be positive");
        }
        if (dim % headSize != 0) throw new IllegalArgumentException("--dim " + dim + " is not a multiple of --head-size " + headSize);
    }

    /**
     * The defaults of {@code train}: the composable RWKV-7 run of docs/COMPOSABLE_MEMORY.md; the demo model is these
     * with {@code --objective plain --steps 6000}.
     */
    public static TrainOptions defaults(Path out) {
        return new TrainOptions("rwkv7", Objective.COMPOSABLE, 3000, 16, 3e-3f, 100, 1.0f, 1L, 4, 128, 32, 1,
                new int[] {1, 2, 4}, out, 250);
    }

    /** Parses {@code --key value} arguments over {@link #defaults}. */
    public static TrainOptions parse(String[] args) {
        TrainOptions d = defaults(Path.of("runs"));
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + args[i] + "'");
            String key = args[i].substring(2);
            if (key.equals("resume")) continue;
            if (i + 1 >= args.length) throw new IllegalArgumentException("--" + key + " needs a value");
            a.put(key, args[++i]);
        }
        TrainOptions o = new TrainOptions(
                a.getOrDefault("arch", d.arch),
                Objective.valueOf(a.getOrDefault("objective", d.objective.name()).toUpperCase()),
                Integer.parseInt(a.getOrDefault("steps", "" + d.steps)),
                Integer.parseInt(a.getOrDefault("batch", "" + d.batch)),
                Float.parseFloat(a.getOrDefault("lr", "" + d.lr)),
                Integer.parseInt(a.getOrDefault("warmup", "" + d.warmup)),
                Float.parseFloat(a.getOrDefault("clip", "" + d.clip)),
                Long.parseLong(a.getOrDefault("seed", "" + d.seed)),
                Integer.parseInt(a.getOrDefault("layers", "" + d.layers)),
                Integer.parseInt(a.getOrDefault("dim", "" + d.dim)),
                Integer.parseInt(a.getOrDefault("head-size", "" + d.headSize)),
                Integer.parseInt(a.getOrDefault("facts", "" + d.factsPerDocument)),
                Arrays.stream(a.getOrDefault("docs", "1,2,4").split(",")).mapToInt(Integer::parseInt).toArray(),
                Path.of(a.getOrDefault("out", "runs/" + a.getOrDefault("arch", d.arch) + "-"
                        + a.getOrDefault("objective", d.objective.name()).toLowerCase())),
                Integer.parseInt(a.getOrDefault("checkpoint-every", "" + d.checkpointEvery)));
        a.keySet().removeAll(java.util.Set.of("arch", "objective", "steps", "batch", "lr", "warmup", "clip", "seed", "layers",
                "dim", "head-size", "facts", "docs", "out", "checkpoint-every"));
        if (!a.isEmpty()) throw new IllegalArgumentException("unknown option(s) " + a.keySet());
        return o;
    }

    /** For config.json and the model card. */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("arch", arch);
        m.put("objective", objective.name().toLowerCase());
        m.put("steps", steps);
        m.put("batch", batch);
        m.put("lr", lr);
        m.put("warmup", warmup);
        m.put("clip", clip);
        m.put("seed", seed);
        m.put("layers", layers);
        m.put("dim", dim);
        m.put("head_size", headSize);
        m.put("facts", factsPerDocument);
        m.put("docs", Arrays.toString(documents));
        return m;
    }
}
