package io.engram.bench;

import ai.djl.Device;
import io.engram.EngramApplication;
import io.engram.model.LanguageModel;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.ModelState;
import io.engram.model.demo.DemoModel;
import io.engram.model.ops.CpuKernels;
import io.engram.weights.ServeDtype;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@code java -jar engram.jar bench [--model DIR | --random-0.1b] [--runs 5] [--prime-tokens 1024]
 * [--decode-tokens 64] [--chunk-tokens 256] [--no-http] [--load ...] [--formats bfloat16,int8] [--quality 256]
 * [--device cpu|cuda|cuda:N] [--ndarray-path] [--streams 16,64] [--weights-memory auto|heap|native]}:
 * priming throughput, single-stream decode (float32, then one row per served format of {@code --formats}; with
 * {@code --quality N}, each format's logit error and greedy agreement over N steps against float32), batched decode
 * at each {@code --streams} count,
 * and the wall time of one {@code POST /v1/states} plus one {@code POST /v1/generate} of 32 tokens through real
 * HTTP. Each figure is the median of the runs, after one warm-up run. The load average is printed before and
 * after: on a shared machine, figures are only comparable at comparable load. {@code bench --retnet-0.1b |
 * --retnet DIR ...} measures RetNet's paradigms instead ({@link RetNetBenchmark}); {@code --load} adds the
 * concurrent-streams benchmark ({@link LoadBenchmark}).
 */
public final class Benchmark {

    private Benchmark() {}

    public static int run(String[] args) throws Exception {
        for (String a : args) {
            if (a.equals("--retnet-0.1b") || a.equals("--retnet")) return RetNetBenchmark.run(args); // RetNet's own set
            if (a.equals("--soak")) return Soak.command(args); // soak and overload: threads, RSS, errors over a long run
        }
        Path modelDir = null;
        int runs = 5, primeTokens = 1024, decodeTokens = 64, chunkTokens = 256, qualitySteps = 0;
        List<ServeDtype> formats = List.of(ServeDtype.BFLOAT16, ServeDtype.INT8);
        boolean http = true;
        boolean load = false;
        int loadTokens = 128, primeForLoad = 32768;
        int[] loadStreams = {1, 4, 16, 64};
        String deviceName = "cpu";
        String weightsMemory = "auto";
        boolean ndarrayPath = false;
        int[] streams = {};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> modelDir = Path.of(args[++i]);
                case "--random-0.1b" -> modelDir = null;
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--prime-tokens" -> primeTokens = Integer.parseInt(args[++i]);
                case "--decode-tokens" -> decodeTokens = Integer.parseInt(args[++i]);
                case "--chunk-tokens" -> chunkTokens = Integer.parseInt(args[++i]);
                case "--no-http" -> http = false;
                case "--load" -> load = true;
                case "--formats" -> formats = Arrays.stream(args[++i].split(",")).map(f -> ServeDtype.parse(f, "--formats")).toList();
                case "--quality" -> qualitySteps = Integer.parseInt(args[++i]);
                case "--load-streams" -> loadStreams = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--load-tokens" -> loadTokens = Integer.parseInt(args[++i]);
                case "--load-prime-tokens" -> primeForLoad = Integer.parseInt(args[++i]);
                case "--device" -> deviceName = args[++i];
                case "--weights-memory" -> weightsMemory = args[++i];
                case "--write-random-1.5b" -> {
                    Path dir = Path.of(args[++i]);
                    System.out.println("Writing a random-weight RWKV-7 at the 1.5B shape (L=24, C=2048, N=64, V=65536), bfloat16, to " + dir);
                    DemoModel.write(dir, DemoModel.RWKV7_1_5B, 7L, true);
                    return 0;
                }
                case "--write-random-0.1b" -> { // a persistent copy of what --random-0.1b serves, for side-by-side runs
                    Path dir = Path.of(args[++i]);
                    System.out.println("Writing a random-weight RWKV-7 at the 0.1B shape (L=12, C=768, N=64, V=65536), float32, to " + dir);
                    DemoModel.write(dir, DemoModel.RWKV7_0_1B, 7L);
                    return 0;
                }
                case "--ndarray-path" -> ndarrayPath = true;
                case "--streams" -> streams = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> {
                    System.err.println("unknown option " + args[i] + "\nusage: bench [--model DIR | --random-0.1b] "
                            + "[--runs N] [--prime-tokens N] [--decode-tokens N] [--chunk-tokens N] [--no-http] [--load] "
                            + "[--device cpu|cuda|cuda:N] [--ndarray-path] [--streams 16,64] [--weights-memory auto|heap|native] "
                            + "| bench --write-random-0.1b DIR | bench --write-random-1.5b DIR");
                    return 2;
                }
            }
        }
        Path tmp = null;
        if (modelDir == null) {
            tmp = Files.createTempDirectory("engram-bench");
            modelDir = tmp.resolve("rwkv7-0.1b-random");
            System.out.println("Writing a random-weight RWKV-7 at the 0.1B shape (L=12, C=768, N=64, V=65536) to " + modelDir);
            Path written = tmp;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(written))); // also on failure
            DemoModel.write(modelDir, DemoModel.RWKV7_0_1B, 7L);
        }
        System.out.printf("JVM: %s, %d cores (%s), Vector API kernels: %s, chunk %d tokens%n", Runtime.version(),
                Runtime.getRuntime().availableProcessors(), cpuModel(), CpuKernels.VECTOR_API, chunkTokens);
        System.out.println("Load average before: " + loadAverage());
        String modelId = modelDir.getFileName().toString();
        Device device = device(deviceName);
        // --ndarray-path: the NDArray-only path (what a GPU runs) on the CPU engine; on a GPU it is the only path
        LoadedModel lm = ModelDirectory.load(modelId, modelDir, new ModelDirectory.Options(device, chunkTokens, !ndarrayPath).withWeightsMemory(weightsMemory));
        LanguageModel m = lm.model();
        System.out.printf("Device: %s (%s)%n", device, device.isGpu() || ndarrayPath ? "NDArray-only path" : "Java CPU path");
        System.out.printf("Model: %s, %d layers, %,d parameters (%s)%n", m.architecture(), m.layers(), m.parameters(), lm.weightsDtype());
        Random rnd = new Random(1);
        int vocab = m.vocabSize();

        List<Double> prime = new ArrayList<>(), decode = new ArrayList<>();
        for (int r = 0; r <= runs; r++) {
            int[] doc = rnd.ints(primeTokens, 1, Math.min(vocab, 60000)).toArray();
            ModelState s = m.zeroState();
            long t0 = System.nanoTime();
            float[] logits = m.forward(s, doc, true);
            double primeS = (System.nanoTime() - t0) / 1e9;
            int tok = argmax(logits);
            long t1 = System.nanoTime();
            for (int i = 0; i < decodeTokens; i++) tok = argmax(m.forward(s, new int[] {tok}, true));
            double decodeS = (System.nanoTime() - t1) / 1e9;
            if (r == 0) continue; // warm-up
            prime.add(primeTokens / primeS);
            decode.add(decodeTokens / decodeS);
            System.out.printf("run %d: prime %.0f tok/s, decode %.1f tok/s%n", r, primeTokens / primeS, decodeTokens / decodeS);
        }
        List<double[]> batched = new ArrayList<>();
        for (int b : streams) batched.add(batchedDecode(m, b, decodeTokens, rnd));
        m.close();
        // the served formats: the same decode loop on the same model, one instance per format (float32 included),
        // alternated run by run so that a neighbour's load falls on every format alike
        java.util.Map<ServeDtype, Double> served = new java.util.LinkedHashMap<>();
        java.util.Map<ServeDtype, java.util.TreeMap<Integer, Double>> batchedByFormat = new java.util.LinkedHashMap<>();
        if (m.architecture().equals("rwkv7") && formats.stream().anyMatch(f -> f != ServeDtype.FLOAT32)) {
            java.util.Map<ServeDtype, LoadedModel> byFormat = new java.util.LinkedHashMap<>();
            java.util.Map<ServeDtype, List<Double>> d = new java.util.LinkedHashMap<>();
            try {
                for (ServeDtype f : java.util.stream.Stream.concat(java.util.stream.Stream.of(ServeDtype.FLOAT32), formats.stream()).distinct().toList()) {
                    byFormat.put(f, ModelDirectory.load(modelId, modelDir,
                            new ModelDirectory.Options(Device.cpu(), chunkTokens, true).withServeDtype(f.id).withWeightsMemory(weightsMemory)));
                    d.put(f, new ArrayList<>());
                }
                for (int r = 0; r <= runs; r++) {
                    int[] prompt = rnd.ints(64, 1, Math.min(vocab, 60000)).toArray();
                    for (var e : byFormat.entrySet()) {
                        LanguageModel q = e.getValue().model();
                        ModelState s = q.zeroState();
                        int tok = argmax(q.forward(s, prompt, true));
                        long t1 = System.nanoTime();
                        for (int i = 0; i < decodeTokens; i++) tok = argmax(q.forward(s, new int[] {tok}, true));
                        double decodeS = (System.nanoTime() - t1) / 1e9;
                        if (r == 0) continue;
                        d.get(e.getKey()).add(decodeTokens / decodeS);
                        System.out.printf("run %d: decode %.1f tok/s, %s weights (alternated)%n", r, decodeTokens / decodeS, e.getKey());
                    }
                }
                // batched steps per format, alternated like the decode runs: {streams -> [tok/s, ms/step]} medians
                for (int b : streams) {
                    java.util.Map<ServeDtype, List<Double>> perStep = new java.util.LinkedHashMap<>();
                    for (int r = 0; r < Math.max(1, Math.min(runs, 3)); r++) {
                        for (var e : byFormat.entrySet()) {
                            perStep.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(batchedDecode(e.getValue().model(), b, decodeTokens, rnd)[1]);
                        }
                    }
                    perStep.forEach((f, ms) -> batchedByFormat.computeIfAbsent(f, k -> new java.util.TreeMap<>()).put(b, median(ms)));
                }
            } finally {
                byFormat.values().forEach(LoadedModel::close);
            }
            d.forEach((f, v) -> served.put(f, median(v)));
        }
        List<io.engram.model.rwkv7.ServedQuality.Result> quality = new ArrayList<>();
        if (qualitySteps > 0 && m.architecture().equals("rwkv7")) {
            try (io.engram.weights.Checkpoint ck = io.engram.weights.Checkpoints.open(modelDir)) {
                io.engram.model.rwkv7.Rwkv7Weights w = io.engram.model.rwkv7.Rwkv7Weights.read(ck);
                int[] prompt = new Random(2).ints(16, 1, Math.min(vocab, 60000)).toArray();
                for (ServeDtype f : formats) {
                    if (f != ServeDtype.FLOAT32) quality.add(io.engram.model.rwkv7.ServedQuality.measure(w, f, prompt, qualitySteps));
                }
            }
        }
        var headMs = Ceilings.servedHeadMs(runs);
        double gbps = Ceilings.decodeKernelGbps(runs), gflops = Ceilings.djlGemmGflops(chunkTokens, 768, 3072, runs);

        Double httpMs = null;
        if (http) httpMs = httpRoundTrip(modelDir.getParent(), modelId, chunkTokens, runs, rnd);
        List<LoadBenchmark.Result> loadResults = new ArrayList<>();
        if (load) loadResults = loadTest(modelDir.getParent(), loadStreams, loadTokens, primeForLoad);

        System.out.println("Load average after: " + loadAverage());
        System.out.println();
        System.out.println("| metric | median of " + runs + " |");
        System.out.println("|---|---|");
        System.out.printf("| priming a %d-token document | %.0f tok/s |%n", primeTokens, median(prime));
        System.out.printf("| single-stream decode | %.1f tok/s (%.1f ms/token) |%n", median(decode), 1000 / median(decode));
        served.forEach((f, v) -> System.out.printf("| single-stream decode, %s weights (formats alternated) | %.1f tok/s (%.1f ms/token) |%n", f, v, 1000 / v));
        for (var q : quality) {
            System.out.printf("| %s vs float32 logits, %d greedy steps: max / mean abs error, greedy agreement | %.4f / %.5f (max |logit| %.2f), %.1f%% |%n",
                    q.dtype(), q.steps(), q.maxAbs(), q.meanAbs(), q.logitRange(), 100 * q.agreement());
        }
        for (int i = 0; i < streams.length; i++) {
            System.out.printf("| batched decode, %d streams (model.step, no HTTP, one timed run) | %.0f tok/s aggregate (%.1f ms/step) |%n",
                    streams[i], batched.get(i)[0], batched.get(i)[1]);
        }
        batchedByFormat.forEach((f, byStreams) -> byStreams.forEach((b, ms) -> {
            Double one = byStreams.get(1);
            String ratio = one == null || b == 1 ? "" : String.format(", %.2fx one stream", b * one / ms);
            System.out.printf("| batched decode, %d streams, %s weights (model.step, formats alternated) | %.0f tok/s aggregate (%.1f ms/step%s) |%n",
                    b, f, 1000.0 * b / ms, ms, ratio);
        }));
        if (httpMs != null) System.out.printf("| POST /v1/states + POST /v1/generate (32 tokens), HTTP | %.0f ms |%n", httpMs);
        System.out.printf("| ceiling: decode kernel read bandwidth, 512 MB | %.1f GB/s |%n", gbps);
        headMs.forEach((f, v) -> System.out.printf("| ceiling: head product [65536,768] x [768], %s weights | %.2f ms |%n", f, v));
        System.out.printf("| ceiling: DJL product [%d,768]x[768,3072] | %.0f GFLOP/s |%n", chunkTokens, gflops);
        if (!loadResults.isEmpty()) {
            System.out.println();
            LoadBenchmark.print(loadResults);
        }
        if (tmp != null) deleteTree(tmp);
        return 0;
    }

    /** cpu, cuda (the first GPU) or cuda:N, as {@code engram.device} reads them. */
    private static Device device(String name) {
        if (name.equals("cpu")) return Device.cpu();
        if (!name.equals("cuda") && !name.startsWith("cuda:")) throw new IllegalArgumentException("--device must be cpu, cuda or cuda:N, got " + name);
        int n = name.equals("cuda") ? 0 : Integer.parseInt(name.substring(5));
        int gpus = ai.djl.engine.Engine.getInstance().getGpuCount();
        if (n >= gpus) throw new IllegalStateException("--device " + name + " but this machine has " + gpus + " CUDA device(s)");
        return Device.gpu(n);
    }

    /**
     * B streams, each primed with 64 tokens, decoded together with {@link LanguageModel#step} (rows = sequences):
     * {aggregate tok/s, ms per step} over {@code steps} steps after five warm-up steps.
     */
    private static double[] batchedDecode(LanguageModel m, int b, int steps, Random rnd) {
        List<ModelState> states = new ArrayList<>();
        int vocab = Math.min(m.vocabSize(), 60000);
        for (int i = 0; i < b; i++) {
            ModelState s = m.zeroState();
            m.forward(s, rnd.ints(64, 1, vocab).toArray(), false);
            states.add(s);
        }
        int[] tokens = rnd.ints(b, 1, vocab).toArray();
        for (int w = 0; w < 5; w++) tokens = argmaxRows(m.step(states, tokens));   // warm: the JIT has not seen b rows
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) tokens = argmaxRows(m.step(states, tokens));
        double sec = (System.nanoTime() - t0) / 1e9;
        System.out.printf("batched decode, %d streams: %.0f tok/s aggregate%n", b, (double) b * steps / sec);
        return new double[] {b * steps / sec, 1000 * sec / steps};
    }

    private static int[] argmaxRows(float[][] logits) {
        int[] out = new int[logits.length];
        for (int i = 0; i < logits.length; i++) out[i] = argmax(logits[i]);
        return out;
    }

    /** Starts the real server on a free port over {@code modelsDir}, then times prime + generate on {@code modelId}. */
    private static double httpRoundTrip(Path modelsDir, String modelId, int chunkTokens, int runs, Random rnd) throws Exception {
        ConfigurableApplicationContext ctx = SpringApplication.run(EngramApplication.class,
                "--engram.models-dir=" + modelsDir, "--server.port=0", "--engram.demo.enabled=false",
                "--engram.default-model=" + modelId, "--engram.scheduler.chunk-tokens=" + chunkTokens,
                "--logging.level.root=WARN");
        try {
            int port = Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port"));
            HttpClient client = HttpClient.newHttpClient();
            List<Double> ms = new ArrayList<>();
            for (int r = 0; r <= runs; r++) {
                String doc = "Engram benchmark document " + rnd.nextLong() + ". " + "The quick brown fox jumps over the lazy dog. ".repeat(20);
                long t0 = System.nanoTime();
                String state = post(client, port, "/v1/states", "{\"text\":\"" + doc + "\"}");
                String id = state.replaceAll(".*\"id\":\"([0-9a-f]{64})\".*", "$1");
                post(client, port, "/v1/generate", "{\"states\":[{\"id\":\"" + id + "\"}],\"prompt\":\" Question:\","
                        + "\"max_tokens\":32,\"temperature\":0}");
                if (r > 0) ms.add((System.nanoTime() - t0) / 1e6);
            }
            return median(ms);
        } finally {
            ctx.close();
        }
    }

    /** Concurrent streams at each level, without and then with a concurrent long prime. */
    private static List<LoadBenchmark.Result> loadTest(Path modelsDir, int[] levels, int tokens, int primeTokens) throws Exception {
        ConfigurableApplicationContext ctx = SpringApplication.run(EngramApplication.class,
                "--engram.models-dir=" + modelsDir, "--server.port=0", "--engram.demo.enabled=false",
                "--logging.level.root=WARN", "--engram.limits.max-document-tokens=" + Math.max(primeTokens, 1000000));
        try {
            LoadBenchmark lb = new LoadBenchmark(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")));
            // warm-up at every level: a level measured cold (the JIT has not compiled its batch size's paths yet)
            // understates it; 1 stream right after start-up read 23 tok/s where a warm one reads 50
            for (int n : levels) lb.run(n, Math.min(tokens, 32), null);
            List<LoadBenchmark.Result> out = new ArrayList<>();
            for (int n : levels) {
                out.add(lb.run(n, tokens, null));
                System.out.println("load: " + out.get(out.size() - 1));
            }
            for (int n : levels) {
                out.add(lb.run(n, tokens, primeTokens));
                System.out.println("load: " + out.get(out.size() - 1));
            }
            return out;
        } finally {
            ctx.close();
        }
    }

    private static String post(HttpClient c, int port, String path, String json) throws Exception {
        HttpResponse<String> res = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() >= 300) throw new IllegalStateException(path + " answered " + res.statusCode() + ": " + res.body());
        return res.body();
    }

    /** The 1, 5 and 15 minute load averages. */
    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim().replaceAll("^(\\S+ \\S+ \\S+).*", "$1");
        } catch (java.io.IOException e) {
            return String.format("%.2f", java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }

    private static String cpuModel() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("unknown CPU");
        } catch (java.io.IOException e) {
            return System.getProperty("os.arch");
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            if (Files.exists(p)) deleteTree(p);
        } catch (java.io.IOException | RuntimeException ignored) {
            // best effort at exit
        }
    }

    private static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        try (var s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
