package io.engram.bench;

import ai.djl.Device;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.ModelState;
import io.engram.model.demo.RetNetDemoModel;
import io.engram.model.retnet.Paradigm;
import io.engram.model.retnet.RetNetModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * {@code bench --retnet-0.1b [--keep-random-model DIR] | --retnet DIR} [--runs 3] [--recurrent-runs 1] [--prime-tokens 4096]
 * [--decode-tokens 32] [--lengths 1024,2048,4096,8192,16384] [--parallel-max-tokens 8192] [--chunk N] [--paradigms chunkwise,parallel,recurrent]:
 * RetNet priming in each paradigm, decode, and how priming time grows with the document. Every figure is the
 * median of the runs, after one warm-up run at the smallest size.
 */
final class RetNetBenchmark {

    private RetNetBenchmark() {}

    static int run(String[] args) throws Exception {
        Path modelDir = null, cache = null;
        int runs = 3, recurrentRuns = 1, primeTokens = 4096, decodeTokens = 32, parallelMax = 8192, chunk = 0;
        int[] lengths = {1024, 2048, 4096, 8192, 16384};
        List<Paradigm> paradigms = List.of(Paradigm.CHUNKWISE, Paradigm.PARALLEL, Paradigm.RECURRENT);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--retnet-0.1b" -> modelDir = null;
                case "--retnet" -> modelDir = Path.of(args[++i]);
                case "--keep-random-model" -> cache = Path.of(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--recurrent-runs" -> recurrentRuns = Integer.parseInt(args[++i]);
                case "--prime-tokens" -> primeTokens = Integer.parseInt(args[++i]);
                case "--decode-tokens" -> decodeTokens = Integer.parseInt(args[++i]);
                case "--parallel-max-tokens" -> parallelMax = Integer.parseInt(args[++i]);
                case "--chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--paradigms" -> paradigms = java.util.Arrays.stream(args[++i].split(","))
                        .map(x -> Paradigm.valueOf(x.toUpperCase(java.util.Locale.ROOT))).toList();
                case "--lengths" -> lengths = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> {
                    System.err.println("unknown option " + args[i] + "\nusage: bench --retnet-0.1b [--keep-random-model DIR] | --retnet DIR [--runs N] "
                            + "[--recurrent-runs N] [--prime-tokens N] [--decode-tokens N] [--lengths a,b,..] "
                            + "[--parallel-max-tokens N] [--chunk N] [--paradigms chunkwise,parallel,recurrent]");
                    return 2;
                }
            }
        }
        Path tmp = null;
        if (modelDir == null) {
            if (cache == null) tmp = Files.createTempDirectory("engram-bench");
            modelDir = (cache != null ? cache : tmp).resolve("retnet-0.1b-random");
            if (!Files.exists(modelDir.resolve("config.json"))) {
                System.out.println("Writing a random-weight RetNet (D=768, Dv=1536, 12 layers, 12 heads, FFN 1536, V=65536) to " + modelDir);
                RetNetDemoModel.write(modelDir, RetNetDemoModel.RETNET_0_1B, 7L, "rwkv-world");
            }
        }
        System.out.printf("JVM: %s, %d cores%n", Runtime.version(), Runtime.getRuntime().availableProcessors());
        try (LoadedModel lm = ModelDirectory.load(modelDir.getFileName().toString(), modelDir,
                new ModelDirectory.Options(Device.cpu(), 256, true, chunk))) {
            if (!(lm.model() instanceof RetNetModel m)) {
                System.err.println(modelDir + " is not a RetNet model");
                return 2;
            }
            System.out.printf("Model: retnet, %d layers, %,d parameters, chunk %d, state %,d bytes%n", m.layers(),
                    m.parameters(), m.chunkSize(), m.stateBytes());
            Random rnd = new Random(1);
            int vocab = m.vocabSize();
            time(m, doc(rnd, lengths[0], vocab), Paradigm.CHUNKWISE); // warm-up

            // seconds per run, by paradigm and document length; the prime-tokens figures are reused in the growth table
            Map<Paradigm, Map<Integer, List<Double>>> times = new LinkedHashMap<>();
            for (Paradigm p : paradigms) {
                int n = p == Paradigm.RECURRENT ? recurrentRuns : runs;
                for (int r = 0; r < n; r++) measure(m, rnd, primeTokens, vocab, p, times);
            }
            Map<String, Double> prime = new LinkedHashMap<>();
            for (Paradigm p : paradigms) {
                List<Double> t = times.get(p) == null ? null : times.get(p).get(primeTokens);
                if (t != null && !t.isEmpty()) prime.put(p.name().toLowerCase(), primeTokens / Benchmark.median(t));
            }

            List<Double> decode = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                ModelState s = m.zeroState();
                float[] logits = m.forward(s, doc(rnd, 512, vocab), true);
                int tok = argmax(logits);
                long t0 = System.nanoTime();
                for (int i = 0; i < decodeTokens; i++) tok = argmax(m.forward(s, new int[] {tok}, true));
                double sec = (System.nanoTime() - t0) / 1e9;
                decode.add(decodeTokens / sec);
                System.out.printf("decode %d tokens: %.1f tok/s%n", decodeTokens, decodeTokens / sec);
            }

            for (int len : lengths) {
                int have = times.getOrDefault(Paradigm.CHUNKWISE, Map.of()).getOrDefault(len, List.of()).size();
                for (int r = have; r < runs; r++) measure(m, rnd, len, vocab, Paradigm.CHUNKWISE, times);
                if (len > parallelMax) continue;
                have = times.getOrDefault(Paradigm.PARALLEL, Map.of()).getOrDefault(len, List.of()).size();
                for (int r = have; r < (len > 4096 ? 1 : runs); r++) measure(m, rnd, len, vocab, Paradigm.PARALLEL, times);
            }

            System.out.println();
            System.out.printf("| RetNet 0.1B-class, random weights | median of %d (recurrent: %d) |%n", runs, recurrentRuns);
            System.out.println("|---|---|");
            for (var e : prime.entrySet()) {
                System.out.printf("| priming a %d-token document, %s | %.0f tok/s |%n", primeTokens, e.getKey(), e.getValue());
            }
            if (prime.containsKey("recurrent") && prime.containsKey("chunkwise")) {
                System.out.printf("| chunkwise vs token-by-token recurrent priming | %.0fx |%n", prime.get("chunkwise") / prime.get("recurrent"));
            }
            System.out.printf("| single-stream decode (recurrent) | %.1f tok/s (%.0f ms/token) |%n", Benchmark.median(decode),
                    1000 / Benchmark.median(decode));
            System.out.println();
            System.out.println("| tokens | chunkwise priming | parallel priming |");
            System.out.println("|---|---|---|");
            for (int len : lengths) {
                System.out.printf("| %d | %s | %s |%n", len, cell(times, Paradigm.CHUNKWISE, len), cell(times, Paradigm.PARALLEL, len));
            }
        } finally {
            if (tmp != null) deleteTree(tmp);
        }
        return 0;
    }

    private static void measure(RetNetModel m, Random rnd, int len, int vocab, Paradigm p,
                                Map<Paradigm, Map<Integer, List<Double>>> times) {
        double sec = time(m, doc(rnd, len, vocab), p);
        times.computeIfAbsent(p, k -> new LinkedHashMap<>()).computeIfAbsent(len, k -> new ArrayList<>()).add(sec);
        System.out.printf("prime %d tokens, %s: %.2f s (%.0f tok/s)%n", len, p, sec, len / sec);
    }

    /** "median s (runs)" or "skipped". */
    private static String cell(Map<Paradigm, Map<Integer, List<Double>>> times, Paradigm p, int len) {
        List<Double> t = times.getOrDefault(p, Map.of()).get(len);
        return t == null || t.isEmpty() ? "skipped" : String.format("%.2f s (%d run%s)", Benchmark.median(t), t.size(), t.size() == 1 ? "" : "s");
    }

    /** Seconds to read {@code doc} from the zero state with paradigm {@code p}, including the last token's logits. */
    private static double time(RetNetModel m, int[] doc, Paradigm p) {
        ModelState s = m.zeroState();
        long t0 = System.nanoTime();
        m.forward(s, doc, true, p);
        return (System.nanoTime() - t0) / 1e9;
    }

    private static int[] doc(Random rnd, int n, int vocab) {
        return rnd.ints(n, 1, Math.min(vocab, 60000)).toArray();
    }

    private static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        try (var s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
