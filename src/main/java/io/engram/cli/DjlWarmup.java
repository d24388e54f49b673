package io.engram.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.Utils;

/**
 * {@code java -jar engram.jar warmup}: initialises the PyTorch engine once and exits. Run at image build time, it
 * leaves libtorch and the JNI library unpacked in {@code DJL_CACHE_DIR}, and the Hugging Face tokenizers' native
 * library beside them (DJL copies it there on first use, which a read-only cache would refuse), so a container
 * starts without writing or downloading anything. Starts no server and loads no model.
 */
public final class DjlWarmup {

    private DjlWarmup() {}

    public static int run() {
        Engine engine = Engine.getEngine("PyTorch");
        try (NDManager m = engine.newBaseManager(Device.cpu())) {
            NDArray a = m.ones(new Shape(2, 2));
            float sum = a.matMul(a).sum().getFloat();
            if (sum != 8f) throw new IllegalStateException("libtorch computed " + sum + " for a 2x2 check, expected 8");
        }
        warmTokenizers();
        System.out.println("libtorch " + engine.getVersion() + " ready in " + Utils.getEngineCacheDir("pytorch")
                + " (CUDA devices visible now: " + engine.getGpuCount() + ")");
        return 0;
    }

    /** A smallest {@code tokenizer.json} (word level, two words) to load the tokenizers library once. */
    private static final String TINY_TOKENIZER = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
            + "\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,"
            + "\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{\"[UNK]\":0,\"warm\":1},\"unk_token\":\"[UNK]\"}}";

    /** Loads the {@code hf} tokenizer's native library (DJL unpacks it into {@code DJL_CACHE_DIR/tokenizers}). */
    static void warmTokenizers() {
        try {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("engram-warmup");
            java.nio.file.Path json = java.nio.file.Files.writeString(dir.resolve("tokenizer.json"), TINY_TOKENIZER);
            try (io.engram.tokenizer.HfTokenizer t = io.engram.tokenizer.HfTokenizer.load(json)) {
                int[] ids = t.encode("warm");
                if (ids.length != 1 || ids[0] != 1) {
                    throw new IllegalStateException("the tokenizers library encoded 'warm' as " + java.util.Arrays.toString(ids));
                }
            } finally {
                java.nio.file.Files.deleteIfExists(json);
                java.nio.file.Files.deleteIfExists(dir);
            }
            System.out.println("hf tokenizers ready in " + Utils.getCacheDir().resolve("tokenizers"));
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot load the Hugging Face tokenizers library: " + e.getMessage(), e);
        }
    }
}
