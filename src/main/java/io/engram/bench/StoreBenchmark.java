package io.engram.bench;

import ai.djl.Device;
import io.engram.EngramApplication;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.ModelState;
import io.engram.model.demo.DemoModel;
import io.engram.state.InMemoryStateStore;
import io.engram.state.RedisStateStore;
import io.engram.state.StateCodec;
import io.engram.state.StateIds;
import io.engram.state.StateMeta;
import io.engram.state.StoredState;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.function.Supplier;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.Cursor;
import org.springframework.data.redis.core.ScanOptions;

/**
 * {@code java -jar engram.jar bench-store [--model DIR | --random-0.1b] [--redis URL] [--runs 20]
 * [--doc-tokens 8192] [--prompt-tokens 16] [--ttft-runs 3] [--no-http]}: the state store's figures for one state of
 * the model (by default a random-weight RWKV-7 at the 0.1B shape, ~2.4 MB of state):
 * <ol>
 *   <li>codec encode/decode, and store/load latency in Redis (cold: through the network and the codec) and through
 *       the read-through cache (hot), plus the in-memory store for reference;</li>
 *   <li>time to first token of {@code POST /v1/generate} over real HTTP from a cached document state of
 *       {@code --doc-tokens} tokens against reading the same document (and prompt) from scratch; the ratio is the
 *       product's headline number. Measured with the read-through cache on (hit) and off (every generate loads the
 *       state from Redis).</li>
 * </ol>
 * Medians after one warm-up run. {@code bench-store --chaos ...} is Redis chaos under load instead ({@link StoreChaos}).
 */
public final class StoreBenchmark {

    private StoreBenchmark() {}

    public static int run(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--chaos")) return StoreChaos.run(Arrays.copyOfRange(args, 1, args.length));
        Path modelDir = null;
        String redisUrl = "redis://127.0.0.1:6379";
        int runs = 20, docTokens = 8192, promptTokens = 16, ttftRuns = 3;
        boolean http = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> modelDir = Path.of(args[++i]);
                case "--random-0.1b" -> modelDir = null;
                case "--redis" -> redisUrl = args[++i];
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--doc-tokens" -> docTokens = Integer.parseInt(args[++i]);
                case "--prompt-tokens" -> promptTokens = Integer.parseInt(args[++i]);
                case "--ttft-runs" -> ttftRuns = Integer.parseInt(args[++i]);
                case "--no-http" -> http = false;
                default -> {
                    System.err.println("unknown option " + args[i] + "\nusage: bench-store [--model DIR | --random-0.1b] "
                            + "[--redis URL] [--runs N] [--doc-tokens N] [--prompt-tokens N] [--ttft-runs N] [--no-http]");
                    return 2;
                }
            }
        }
        Path tmp = null;
        if (modelDir == null) {
            tmp = Files.createTempDirectory("engram-bench-store");
            modelDir = tmp.resolve("rwkv7-0.1b-random");
            System.out.println("Writing a random-weight RWKV-7 at the 0.1B shape (L=12, C=768, N=64, V=65536) to " + modelDir);
            DemoModel.write(modelDir, DemoModel.RWKV7_0_1B, 7L);
        }
        LoadedModel lm = ModelDirectory.load(modelDir.getFileName().toString(), modelDir,
                new ModelDirectory.Options(Device.cpu(), 256, true));
        Random rnd = new Random(3);
        int vocab = lm.model().vocabSize();
        ModelState state = lm.model().zeroState();
        float[] logits = lm.model().forward(state, rnd.ints(64, 1, Math.min(vocab, 60000)).toArray(), true);
        byte[] blob = StateCodec.encode(lm.fingerprint(), state, logits);
        System.out.printf("Model %s: %d layers, state %,d bytes, blob %,d bytes (with %,d bytes of next-token logits)%n",
                lm.id(), lm.model().layers(), state.byteSize(), blob.length, 4L * logits.length);

        List<String[]> rows = new ArrayList<>();
        rows.add(row("codec encode (state + logits → blob)", median(runs, () -> StateCodec.encode(lm.fingerprint(), state, logits))));
        rows.add(row("codec decode + validate (blob → state)", median(runs, () -> StateCodec.decode(blob, lm.fingerprint(), lm.model()))));
        rows.add(row("sha256 of the blob (import id)", median(runs, () -> StateIds.ofBytes(blob))));

        InMemoryStateStore mem = new InMemoryStateStore(1L << 32, Clock.systemUTC());
        StoredState stored = stored(lm, state, logits, "bench-mem");
        rows.add(row("in-memory store: put", median(runs, () -> {
            mem.put(stored);
            return null;
        })));
        rows.add(row("in-memory store: get", median(runs, () -> mem.get(stored.meta().id()))));

        String prefix = "engram-bench-" + UUID.randomUUID().toString().substring(0, 8) + ":";
        LettuceConnectionFactory f = new LettuceConnectionFactory(LettuceConnectionFactory.createRedisConfiguration(redisUrl),
                LettuceClientConfiguration.builder().commandTimeout(Duration.ofSeconds(10)).build());
        f.afterPropertiesSet();
        f.start();
        try {
            RedisStateStore hot = new RedisStateStore(f, id -> Optional.of(lm), prefix, 1L << 30, 2, Clock.systemUTC());
            RedisStateStore cold = new RedisStateStore(f, id -> Optional.of(lm), prefix, 0, 2, Clock.systemUTC());
            StoredState r = stored(lm, state, logits, "bench-redis");
            String id = r.meta().id();
            rows.add(row("Redis: put (encode + one atomic EVAL of blob and metadata)", median(runs, () -> {
                hot.put(r);
                return null;
            })));
            rows.add(row("Redis: metadata only (HGETALL)", median(runs, () -> hot.meta(id))));
            rows.add(row("Redis: get, cache miss (HGETALL + GET + decode + validate)", median(runs, () -> cold.get(id).orElseThrow())));
            hot.get(id);
            rows.add(row("Redis: get, read-through cache hit (HGETALL + checksum compare)", median(runs, () -> hot.get(id).orElseThrow())));
        } finally {
            clean(f, prefix);
        }

        System.out.println();
        System.out.printf("| operation, one %.1f MB state | median of %d |%n", blob.length / 1e6, runs);
        System.out.println("|---|---|");
        for (String[] row : rows) System.out.printf("| %s | %s |%n", row[0], row[1]);

        if (http) {
            lm.close();
            ttft(modelDir.getParent(), redisUrl, docTokens, promptTokens, ttftRuns, vocab);
        }
        f.destroy();
        if (tmp != null) deleteTree(tmp);
        return 0;
    }

    private static void ttft(Path modelsDir, String redisUrl, int docTokens, int promptTokens, int runs, int vocab) throws Exception {
        Random rnd = new Random(5);
        int[] doc = rnd.ints(docTokens, 1, Math.min(vocab, 60000)).toArray();
        int[] prompt = rnd.ints(promptTokens, 1, Math.min(vocab, 60000)).toArray();
        int[] all = Arrays.copyOf(doc, doc.length + prompt.length);
        System.arraycopy(prompt, 0, all, doc.length, prompt.length);
        String prefix = "engram-bench-" + UUID.randomUUID().toString().substring(0, 8) + ":";
        System.out.println();
        System.out.printf("TTFT of POST /v1/generate (max_tokens 1, %d prompt tokens) over HTTP, engram.store=redis:%n", promptTokens);
        List<String[]> rows = new ArrayList<>();
        double scratch = 0;
        String id = null;
        for (boolean cache : new boolean[] {true, false}) {
            ConfigurableApplicationContext ctx = SpringApplication.run(EngramApplication.class,
                    "--engram.models-dir=" + modelsDir, "--server.port=0", "--engram.demo.enabled=false",
                    "--engram.store=redis", "--spring.data.redis.url=" + redisUrl, "--engram.redis.key-prefix=" + prefix,
                    "--engram.redis.cache-max-bytes=" + (cache ? 1L << 30 : 0), "--spring.data.redis.timeout=10s",
                    "--engram.limits.max-document-tokens=" + Math.max(docTokens + promptTokens, 1000),
                    "--logging.level.root=WARN", "--spring.main.banner-mode=off");
            try {
                int port = Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port"));
                HttpClient client = HttpClient.newHttpClient();
                if (id == null) {
                    long t0 = System.nanoTime();
                    String res = post(client, port, "/v1/states", "{\"tokens\":" + Arrays.toString(doc) + "}");
                    id = field(res, "id");
                    double primeMs = (System.nanoTime() - t0) / 1e6;
                    rows.add(new String[] {"prime the " + docTokens + "-token document once (POST /v1/states)",
                            String.format("%.0f ms (%.0f tok/s)", primeMs, docTokens / (primeMs / 1000))});
                }
                String cachedBody = "{\"states\":[{\"id\":\"" + id + "\"}],\"prompt_tokens\":" + Arrays.toString(prompt)
                        + ",\"max_tokens\":1,\"temperature\":0}";
                List<Double> wall = new ArrayList<>(), server = new ArrayList<>(), load = new ArrayList<>();
                for (int r = 0; r <= Math.max(runs, 5); r++) {
                    long t0 = System.nanoTime();
                    String res = post(client, port, "/v1/generate", cachedBody);
                    if (r == 0) continue;
                    wall.add((System.nanoTime() - t0) / 1e6);
                    server.add(Double.parseDouble(field(res, "ttft_ms")));
                    load.add(Double.parseDouble(field(res, "state_load_ms")));
                }
                rows.add(new String[] {"from the cached document state, read-through cache " + (cache ? "hit" : "off (state read from Redis)"),
                        String.format("%.1f ms (server ttft_ms %.1f, of which state load %.1f)", med(wall), med(server), med(load))});
                if (cache) {
                    String scratchBody = "{\"prompt_tokens\":" + Arrays.toString(all) + ",\"max_tokens\":1,\"temperature\":0}";
                    List<Double> s = new ArrayList<>(), ss = new ArrayList<>();
                    for (int r = 0; r < runs; r++) {
                        long t0 = System.nanoTime();
                        String res = post(client, port, "/v1/generate", scratchBody);
                        s.add((System.nanoTime() - t0) / 1e6);
                        ss.add(Double.parseDouble(field(res, "ttft_ms")));
                    }
                    scratch = med(s);
                    rows.add(new String[] {"from scratch: document + prompt as prompt_tokens (" + all.length + " tokens)",
                            String.format("%.0f ms (server ttft_ms %.0f)", scratch, med(ss))});
                    rows.add(new String[] {"headline: scratch / cached (cache hit)", String.format("%.0f×", scratch / med(wall))});
                } else {
                    rows.add(new String[] {"headline: scratch / cached (cache off)", String.format("%.0f×", scratch / med(wall))});
                }
            } finally {
                ctx.close();
            }
        }
        System.out.println();
        System.out.println("| TTFT | median |");
        System.out.println("|---|---|");
        for (String[] row : rows) System.out.printf("| %s | %s |%n", row[0], row[1]);
        LettuceConnectionFactory f = new LettuceConnectionFactory(LettuceConnectionFactory.createRedisConfiguration(redisUrl));
        f.afterPropertiesSet();
        f.start();
        clean(f, prefix);
        f.destroy();
    }

    private static StoredState stored(LoadedModel lm, ModelState s, float[] logits, String salt) {
        Instant now = Instant.now();
        String id = StateIds.ofBytes(salt.getBytes());
        return new StoredState(new StateMeta(id, lm.id(), "primed", 64, 64, null, s.byteSize(), now, now.plusSeconds(600)), s, logits);
    }

    private static String[] row(String what, double ms) {
        return new String[] {what, ms < 1 ? String.format("%.3f ms", ms) : String.format("%.2f ms", ms)};
    }

    private static double median(int runs, Supplier<Object> op) {
        op.get();
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            op.get();
            ms.add((System.nanoTime() - t0) / 1e6);
        }
        return med(ms);
    }

    private static double med(List<Double> xs) {
        return Benchmark.median(xs);
    }

    private static String field(String json, String name) {
        var m = java.util.regex.Pattern.compile("\"" + name + "\":\"?([^,\"}]+)").matcher(json);
        if (!m.find()) throw new IllegalStateException("no " + name + " in " + json);
        return m.group(1);
    }

    private static String post(HttpClient c, int port, String path, String json) throws Exception {
        HttpResponse<String> res = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() >= 300) throw new IllegalStateException(path + " answered " + res.statusCode() + ": " + res.body());
        return res.body();
    }

    private static void clean(LettuceConnectionFactory f, String prefix) {
        try (RedisConnection c = f.getConnection();
             Cursor<byte[]> keys = c.keyCommands().scan(ScanOptions.scanOptions().match(prefix + "*").count(1000).build())) {
            List<byte[]> batch = new ArrayList<>();
            while (keys.hasNext()) batch.add(keys.next());
            if (!batch.isEmpty()) c.keyCommands().del(batch.toArray(byte[][]::new));
        }
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        try (var s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }
}
