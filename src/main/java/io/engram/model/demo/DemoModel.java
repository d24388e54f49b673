package io.engram.model.demo;


import io.engram.model.rwkv7.Rwkv7Config;
import io.engram.model.rwkv7.Rwkv7Schema;
import io.engram.weights.HostTensor;
import io.engram.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
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

    /** The RWKV-7 1.5B ("World" 1.5B) shape: what "a model larger than a 2 GiB heap" is measured on. */
    public static final Rwkv7Config RWKV7_1_5B = Rwkv7Config.of(24, 2048, 64, 65536, 8192, 96, 96, 64, 256);

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
        write(dir, shape, seed, false);
    }

    /**
     * As {@link #write(Path, Rwkv7Config, long)}; with {@code bfloat16}, every matrix of two dimensions is stored
     * as bfloat16 (round to nearest even), as the official checkpoints are, and the vectors stay float32.
     */
    public static void write(Path dir, Rwkv7Config shape, long seed, boolean bfloat16) throws IOException {
        Files.createDirectories(dir);
        Map<String, HostTensor> t = Rwkv7Schema.randomInit(shape, seed);
        if (bfloat16) t.replaceAll((name, v) -> v.shape().length == 2 ? toBf16(v) : v);
        int c = shape.dim();
        Path tmp = dir.resolve("model.safetensors.tmp");
        SafetensorsWriter.write(tmp, t, Map.of("format", "pt", "engram", "random-weight demo, seed " + seed));
        Files.move(tmp, dir.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(dir.resolve("config.json"), """
                {"architecture": "rwkv7", "tokenizer": "rwkv-world",
                 "description": "RANDOM WEIGHTS (seed %d, %d layers, width %d): output is random text. Replace with a real RWKV-7 checkpoint for meaningful answers."}
                """.formatted(seed, shape.layers(), c));
        copyVocab(dir.resolve(VOCAB));
    }

    private static HostTensor toBf16(HostTensor f) {
        float[] v = f.toFloatArray();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(2 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putShort(io.engram.model.ops.ServedMatrix.toBf16(x));
        return new HostTensor(f.name(), io.engram.weights.WeightDType.BF16, f.shape(), b.flip());
    }

    /** Copies the RWKV World vocabulary (Apache-2.0 data, shipped on the classpath) to {@code target}. */
    public static void copyVocab(Path target) throws IOException {
        try (InputStream in = DemoModel.class.getResourceAsStream("/tokenizer/" + VOCAB)) {
            if (in == null) throw new IOException("the RWKV World vocabulary is missing from the classpath");
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
