package io.engram.model.demo;

import static io.engram.model.rwkv7.Rwkv7Schema.block;

import io.engram.model.rwkv7.Rwkv7Config;
import io.engram.model.rwkv7.Rwkv7Schema;
import io.engram.weights.HostTensor;
import io.engram.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Installs the demo model ({@link #install}: the trained recall model from {@code models/demo}, bundled in the jar)
 * and writes random-weight RWKV-7 checkpoints, deterministically from a seed, with the official tensor names: at the
 * real 0.1B shape they are the benchmark model, since real weights cannot be downloaded here.
 */
public final class DemoModel {

    public static final String ID = "demo";
    public static final long SEED = 20260101L;
    public static final String VOCAB = "rwkv_vocab_v20230424.txt";

    /** Small enough to write in a second on first start. */
    public static final Rwkv7Config DEMO_SHAPE = Rwkv7Config.of(4, 256, 64, 65536, 1024, 32, 32, 16, 64);
    /** The real RWKV-7 0.1B ("World" 0.1B) shape. */
    public static final Rwkv7Config RWKV7_0_1B = Rwkv7Config.of(12, 768, 64, 65536, 3072, 64, 64, 32, 128);

    private DemoModel() {}

    /** The trained demo model's files, bundled in the jar from {@code models/demo} (see models/demo/README.md). */
    static final String[] TRAINED_FILES = {"config.json", "model.safetensors", VOCAB, "README.md"};

    /**
     * Installs the demo model into {@code dir}: the trained recall model bundled in the jar when it is there, else
     * (a jar built without {@code models/demo}) random weights at {@link #DEMO_SHAPE}.
     *
     * @return true if the trained model was installed
     */
    public static boolean install(Path dir) throws IOException {
        if (DemoModel.class.getResource("/demo-model/model.safetensors") == null) {
            write(dir, DEMO_SHAPE, SEED);
            return false;
        }
        Files.createDirectories(dir);
        for (String f : TRAINED_FILES) {
            try (InputStream in = DemoModel.class.getResourceAsStream("/demo-model/" + f)) {
                if (in == null) throw new IOException("the bundled demo model lacks " + f);
                Path tmp = dir.resolve(f + ".tmp");
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        return true;
    }

    /** True when {@code modelsDir} is missing or holds no model folder. */
    public static boolean shouldCreate(Path modelsDir) throws IOException {
        if (!Files.isDirectory(modelsDir)) return true;
        try (Stream<Path> s = Files.list(modelsDir)) {
            return s.noneMatch(Files::isDirectory);
        }
    }

    /** Writes {@code config.json}, {@code model.safetensors} and the RWKV World vocabulary into {@code dir}. */
    public static void write(Path dir, Rwkv7Config shape, long seed) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom rnd = new SplittableRandom(seed);
        int c = shape.dim(), v = shape.vocab(), f = shape.ffnDim(), h = shape.heads();
        Map<String, HostTensor> t = new LinkedHashMap<>();
        put(t, Rwkv7Schema.EMB, normal(rnd, (long) v * c, 1.0), v, c);
        for (int i = 0; i < shape.layers(); i++) {
            if (i == 0) {
                put(t, Rwkv7Schema.LN0_WEIGHT, fill(c, 1f), c);
                put(t, Rwkv7Schema.LN0_BIAS, fill(c, 0f), c);
            }
            put(t, block(i, Rwkv7Schema.LN1_WEIGHT), fill(c, 1f), c);
            put(t, block(i, Rwkv7Schema.LN1_BIAS), fill(c, 0f), c);
            put(t, block(i, Rwkv7Schema.LN2_WEIGHT), fill(c, 1f), c);
            put(t, block(i, Rwkv7Schema.LN2_BIAS), fill(c, 0f), c);
            for (String m : Rwkv7Schema.ATT_MIXES) {
                put(t, block(i, m), uniform(rnd, c, 0, 1), 1, 1, c);
            }
            put(t, block(i, Rwkv7Schema.ATT_W0), uniform(rnd, c, -6, -1), 1, 1, c);
            put(t, block(i, Rwkv7Schema.ATT_W1), normal(rnd, (long) c * shape.decayLora(), 0.1), c, shape.decayLora());
            put(t, block(i, Rwkv7Schema.ATT_W2), normal(rnd, (long) shape.decayLora() * c, 0.1), shape.decayLora(), c);
            put(t, block(i, Rwkv7Schema.ATT_A0), uniform(rnd, c, -1, 1), 1, 1, c);
            put(t, block(i, Rwkv7Schema.ATT_A1), normal(rnd, (long) c * shape.aLora(), 0.1), c, shape.aLora());
            put(t, block(i, Rwkv7Schema.ATT_A2), normal(rnd, (long) shape.aLora() * c, 0.1), shape.aLora(), c);
            put(t, block(i, Rwkv7Schema.ATT_V0), uniform(rnd, c, -1, 1), 1, 1, c);
            put(t, block(i, Rwkv7Schema.ATT_V1), normal(rnd, (long) c * shape.valueLora(), 0.1), c, shape.valueLora());
            put(t, block(i, Rwkv7Schema.ATT_V2), normal(rnd, (long) shape.valueLora() * c, 0.1), shape.valueLora(), c);
            put(t, block(i, Rwkv7Schema.ATT_G1), normal(rnd, (long) c * shape.gateLora(), 0.1), c, shape.gateLora());
            put(t, block(i, Rwkv7Schema.ATT_G2), normal(rnd, (long) shape.gateLora() * c, 0.1), shape.gateLora(), c);
            put(t, block(i, Rwkv7Schema.ATT_K_K), uniform(rnd, c, 0.5, 1.0), 1, 1, c);
            put(t, block(i, Rwkv7Schema.ATT_K_A), uniform(rnd, c, 0.5, 1.0), 1, 1, c);
            put(t, block(i, Rwkv7Schema.ATT_R_K), normal(rnd, c, 0.1), h, shape.headSize());
            double sc = 1.0 / Math.sqrt(c);
            for (String m : new String[] {Rwkv7Schema.ATT_RECEPTANCE, Rwkv7Schema.ATT_KEY, Rwkv7Schema.ATT_VALUE,
                    Rwkv7Schema.ATT_OUTPUT}) {
                put(t, block(i, m), normal(rnd, (long) c * c, sc), c, c);
            }
            put(t, block(i, Rwkv7Schema.ATT_LN_X_WEIGHT), fill(c, 1f), c);
            put(t, block(i, Rwkv7Schema.ATT_LN_X_BIAS), fill(c, 0f), c);
            put(t, block(i, Rwkv7Schema.FFN_X_K), uniform(rnd, c, 0, 1), 1, 1, c);
            put(t, block(i, Rwkv7Schema.FFN_KEY), normal(rnd, (long) f * c, sc), f, c);
            put(t, block(i, Rwkv7Schema.FFN_VALUE), normal(rnd, (long) c * f, 1.0 / Math.sqrt(f)), c, f);
        }
        put(t, Rwkv7Schema.LN_OUT_WEIGHT, fill(c, 1f), c);
        put(t, Rwkv7Schema.LN_OUT_BIAS, fill(c, 0f), c);
        put(t, Rwkv7Schema.HEAD, normal(rnd, (long) v * c, 1.0 / Math.sqrt(c)), v, c);

        Path tmp = dir.resolve("model.safetensors.tmp");
        SafetensorsWriter.write(tmp, t, Map.of("format", "pt", "engram", "random-weight demo, seed " + seed));
        Files.move(tmp, dir.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(dir.resolve("config.json"), """
                {"architecture": "rwkv7", "tokenizer": "rwkv-world",
                 "description": "RANDOM WEIGHTS (seed %d, %d layers, width %d): output is random text. Replace with a real RWKV-7 checkpoint for meaningful answers."}
                """.formatted(seed, shape.layers(), c));
        copyVocab(dir.resolve(VOCAB));
    }

    /** Copies the RWKV World vocabulary (Apache-2.0 data, shipped on the classpath) to {@code target}. */
    public static void copyVocab(Path target) throws IOException {
        try (InputStream in = DemoModel.class.getResourceAsStream("/tokenizer/" + VOCAB)) {
            if (in == null) throw new IOException("the RWKV World vocabulary is missing from the classpath");
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Random-checkpoint helpers, shared with {@link RetNetDemoModel} and the trainer's initialisation. */
    static void put(Map<String, HostTensor> t, String name, float[] data, long... shape) {
        t.put(name, HostTensor.ofFloats(name, shape, data));
    }

    public static float[] fill(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    public static float[] uniform(SplittableRandom r, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    public static float[] normal(SplittableRandom r, long n, double std) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            // Box-Muller on two uniforms: SplittableRandom has no nextGaussian in Java 17
            double u = 1.0 - r.nextDouble(), w = r.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
        }
        return a;
    }
}
