package io.engram.config;

/**
 * Process-wide settings for DJL and libtorch, applied by the entry point before any DJL class initialises.
 */
public final class DjlConfig {

    /** Iterations a libgomp worker spins after a parallel region before it sleeps, unless the operator chose. */
    static final String GOMP_SPINCOUNT = "10000";

    private DjlConfig() {}

    /** DJL must never reach the network: libtorch comes from the pytorch-native-cpu jar on the classpath. */
    public static void forceOffline() {
        if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
    }

    /**
     * libgomp, which runs libtorch's parallel regions, keeps its worker threads spinning for 300,000 iterations
     * (milliseconds) after each region before they sleep. On the CPU path Java kernels run on every core between
     * two DJL products, and a spinning worker takes a core away from them. Unless {@code GOMP_SPINCOUNT} or
     * {@code OMP_WAIT_POLICY} is already set, this sets {@code GOMP_SPINCOUNT} in the process environment, which
     * libgomp reads when libtorch is loaded (so call it first). Best effort: without it only speed changes.
     * Measured in docs/PERFORMANCE.md (RWKV-7).
     */
    public static void tuneOpenMp() {
        if (System.getenv("GOMP_SPINCOUNT") != null || System.getenv("OMP_WAIT_POLICY") != null) return;
        try {
            com.sun.jna.NativeLibrary libc = com.sun.jna.NativeLibrary.getInstance(com.sun.jna.Platform.C_LIBRARY_NAME);
            libc.getFunction("setenv").invokeInt(new Object[] {"GOMP_SPINCOUNT", GOMP_SPINCOUNT, 0});
        } catch (Throwable e) {
            // JNA or setenv unavailable: libgomp keeps its default
        }
    }
}
