package io.engram;

import io.engram.bench.Benchmark;
import io.engram.config.DjlConfig;
import io.engram.config.DjlWarmup;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * Engram's one entry point. {@code java -jar engram.jar} serves the HTTP API;
 * {@code java -jar engram.jar bench ...} runs the benchmark and {@code bench-store ...} the state-store benchmark
 * (see docs/PERFORMANCE.md); {@code train ...} trains a model on the recall corpus and {@code eval-memory ...}
 * measures it (docs/COMPOSABLE_MEMORY.md); {@code eval-compose ...} measures every {@code compose} mode through HTTP; {@code java -jar engram.jar warmup} unpacks libtorch into {@code DJL_CACHE_DIR} and
 * exits (image builds).
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class EngramApplication {

    public static void main(String[] args) throws Exception {
        DjlConfig.forceOffline();
        DjlConfig.tuneOpenMp();
        if (args.length > 0 && args[0].equals("bench")) {
            System.exit(Benchmark.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("bench-store")) {
            System.exit(io.engram.bench.StoreBenchmark.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("train")) {
            System.exit(io.engram.train.TrainCommand.train(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("eval-memory")) {
            System.exit(io.engram.train.TrainCommand.evaluate(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("eval-compose")) {
            System.exit(io.engram.train.ComposeEval.run(java.util.Arrays.copyOfRange(args, 1, args.length)));
        }
        if (args.length > 0 && args[0].equals("warmup")) System.exit(DjlWarmup.run());
        SpringApplication.run(EngramApplication.class, args);
    }
}
