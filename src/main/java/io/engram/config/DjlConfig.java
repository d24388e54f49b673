package io.engram.config;

/**
 * DJL must never reach the network: libtorch comes from the pytorch-native-cpu jar on the classpath. Called
 * from the entry point before any DJL class initialises.
 */
public final class DjlConfig {

    private DjlConfig() {}

    public static void forceOffline() {
        if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
    }
}
