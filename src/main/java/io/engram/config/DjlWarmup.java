package io.engram.config;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.Utils;

/**
 * {@code java -jar engram.jar warmup}: initialises the PyTorch engine once and exits. Run at image build time, it
 * leaves libtorch and the JNI library unpacked in {@code DJL_CACHE_DIR}, so a container starts without writing or
 * downloading anything. Starts no server and loads no model.
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
        System.out.println("libtorch " + engine.getVersion() + " ready in " + Utils.getEngineCacheDir("pytorch")
                + " (CUDA devices visible now: " + engine.getGpuCount() + ")");
        return 0;
    }
}
