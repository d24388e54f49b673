package io.engram.cli;

import io.engram.EngramApplication;
import io.engram.bench.Benchmark;
import io.engram.bench.StoreBenchmark;
import io.engram.config.DjlConfig;
import io.engram.train.ComposeEval;
import io.engram.train.TrainCommand;
import java.util.Arrays;
import org.springframework.boot.SpringApplication;

/**
 * Engram's one entry point (the jar's start class). {@code java -jar engram.jar} serves the HTTP API
 * ({@link EngramApplication}); a first argument names a command instead:
 * <ul>
 *   <li>{@code bench ...}: the inference benchmark, {@code bench-store ...}: the state-store benchmark
 *       (docs/PERFORMANCE.md);</li>
 *   <li>{@code train ...}: trains a model on the recall corpus, {@code eval-memory ...} measures it, and
 *       {@code eval-compose ...} measures every {@code compose} mode through HTTP (docs/COMPOSABLE_MEMORY.md);</li>
 *   <li>{@code warmup}: unpacks libtorch into {@code DJL_CACHE_DIR} and exits (image builds).</li>
 * </ul>
 * The commands sit here, above the application, so that the application never imports the tools that start it.
 */
public final class Main {

    private Main() {}

    public static void main(String[] args) throws Exception {
        DjlConfig.forceOffline();
        DjlConfig.tuneOpenMp();
        String command = args.length > 0 ? args[0] : "";
        String[] rest = args.length > 0 ? Arrays.copyOfRange(args, 1, args.length) : args;
        switch (command) {
            case "bench" -> System.exit(Benchmark.run(rest));
            case "bench-store" -> System.exit(StoreBenchmark.run(rest));
            case "train" -> System.exit(TrainCommand.train(rest));
            case "eval-memory" -> System.exit(TrainCommand.evaluate(rest));
            case "eval-compose" -> System.exit(ComposeEval.run(rest));
            case "warmup" -> System.exit(DjlWarmup.run());
            default -> SpringApplication.run(EngramApplication.class, args);
        }
    }
}
