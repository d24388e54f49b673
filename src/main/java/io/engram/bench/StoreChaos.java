package io.engram.bench;

import io.engram.EngramApplication;
import io.engram.model.demo.DemoModel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.Cursor;
import org.springframework.data.redis.core.ScanOptions;

/**
 * {@code bench-store --chaos [--kills 5] [--up-ms 3000] [--down-ms 1500] [--clients 4] [--docs 8] [--doc-tokens 48]
 * [--max-tokens 8] [--timeout-s 30] [--cache] [--no-aof] [--model DIR]}: Redis chaos under load. Starts a private
 * {@code redis-server} on a free loopback port (append-only file, {@code appendfsync everysec}, so states outlive a
 * kill except for the last second's writes) and an Engram server in-process with {@code engram.store=redis}
 * (read-through cache off unless {@code --cache}, so every use reads Redis), primes {@code --docs} documents and
 * records the greedy continuation of each. Then {@code --clients} threads send streaming and JSON generates from
 * those states (some with {@code save_state}), primes and metadata reads, while Redis is killed with SIGKILL
 * {@code --kills} times ({@code --up-ms} up, {@code --down-ms} down). Prints requests served, 503s, hung requests
 * (no complete answer within {@code --timeout-s}), corrupt or partial states served (a generate from a state whose
 * tokens differ from the state's recorded continuation, metadata that does not describe the document, a stream
 * that ends without {@code done} or {@code error}), any other answer, and, after the run, keys in Redis whose
 * partner is missing (a blob without its metadata or the reverse). Exits 1 unless hung, corrupt, other and orphan
 * keys are all 0 and requests were served after the last restart. Needs {@code redis-server} on the PATH.
 */
public final class StoreChaos {

    private StoreChaos() {}

    private static final Pattern TOKEN = Pattern.compile("\"token\":(\\d+)");
    private static final Pattern TOKENS = Pattern.compile("\"tokens\":\\[([0-9,]*)]");

    /** The run's figures; {@link #ok} is the pass rule the exit status reports. */
    public record Result(int requests, int served, int unavailable, int streamUnavailable, int lost, int hung, int corrupt,
                         int other, int orphanKeys, int servedAfterLastRestart, int distinctContinuations) {
        public boolean ok() {
            return hung == 0 && corrupt == 0 && other == 0 && orphanKeys == 0 && servedAfterLastRestart > 0;
        }
    }

    public static int run(String[] args) throws Exception {
        Result r = measure(args);
        return r == null ? 2 : r.ok() ? 0 : 1;
    }

    /** Runs the chaos and prints its table; null for a usage error. */
    public static Result measure(String[] args) throws Exception {
        int kills = 5, upMs = 3000, downMs = 1500, clients = 4, docs = 8, docTokens = 48, maxTokens = 8, timeoutS = 30;
        boolean cache = false, aof = true;
        Path modelDir = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--kills" -> kills = Integer.parseInt(args[++i]);
                case "--up-ms" -> upMs = Integer.parseInt(args[++i]);
                case "--down-ms" -> downMs = Integer.parseInt(args[++i]);
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--docs" -> docs = Integer.parseInt(args[++i]);
                case "--doc-tokens" -> docTokens = Integer.parseInt(args[++i]);
                case "--max-tokens" -> maxTokens = Integer.parseInt(args[++i]);
                case "--timeout-s" -> timeoutS = Integer.parseInt(args[++i]);
                case "--cache" -> cache = true;
                case "--no-aof" -> aof = false;
                case "--model" -> modelDir = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + "\nusage: bench-store --chaos [--kills N] [--up-ms MS] "
                            + "[--down-ms MS] [--clients N] [--docs N] [--doc-tokens N] [--max-tokens N] [--timeout-s S] "
                            + "[--cache] [--no-aof] [--model DIR]");
                    return null;
                }
            }
        }
        Path tmp = Files.createTempDirectory("engram-store-chaos");
        try {
            if (modelDir == null) {
                modelDir = tmp.resolve("models").resolve("demo-random");
                System.out.println("Writing a random-weight RWKV-7 at the demo shape (L=4, C=256) to " + modelDir);
                DemoModel.write(modelDir, DemoModel.DEMO_SHAPE, 7L);
            }
            RedisProcess redis = new RedisProcess(freePort(), tmp.resolve("redis"), aof).start();
            try {
                return chaos(modelDir, redis, kills, upMs, downMs, clients, docs, docTokens, maxTokens, timeoutS, cache);
            } finally {
                redis.kill();
            }
        } finally {
            try (var s = Files.walk(tmp)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
            }
        }
    }

    private static Result chaos(Path modelDir, RedisProcess redis, int kills, int upMs, int downMs, int clients, int docs,
                             int docTokens, int maxTokens, int timeoutS, boolean cache) throws Exception {
        String prefix = "engram-chaos:";
        ConfigurableApplicationContext ctx = SpringApplication.run(EngramApplication.class,
                "--engram.models-dir=" + modelDir.getParent(), "--server.port=0", "--engram.demo.enabled=false",
                "--engram.store=redis", "--spring.data.redis.url=" + redis.url(), "--engram.redis.key-prefix=" + prefix,
                "--engram.redis.cache-max-bytes=" + (cache ? 1L << 28 : 0), "--logging.level.root=WARN",
                "--logging.level.io.engram.state=ERROR", "--logging.level.io.lettuce=ERROR", "--spring.main.banner-mode=off");
        try {
            int port = Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port"));
            String model = modelDir.getFileName().toString();
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            int vocab = Integer.parseInt(field(send(client, port, "GET", "/v1/models", null, timeoutS).body(), "vocab_size", "256"));
            String[] docJson = new String[docs];
            String[] ids = new String[docs];
            List<List<Integer>> expected = new ArrayList<>();
            String prompt = "[1, 2, 3]";
            for (int d = 0; d < docs; d++) {
                docJson[d] = Arrays.toString(new SplittableRandom(1000 + d).ints(docTokens, 1, Math.min(vocab, 250)).toArray());
                HttpResponse<String> r = send(client, port, "POST", "/v1/states",
                        "{\"model\":\"" + model + "\",\"tokens\":" + docJson[d] + "}", timeoutS);
                if (r.statusCode() >= 300) throw new IllegalStateException("prime answered " + r.statusCode() + ": " + r.body());
                ids[d] = field(r.body(), "id", null);
                HttpResponse<String> g = send(client, port, "POST", "/v1/generate", generateBody(model, ids[d], prompt, maxTokens,
                        false, false), timeoutS);
                expected.add(tokens(g.body()));
            }

            AtomicBoolean stop = new AtomicBoolean(), afterLast = new AtomicBoolean();
            AtomicInteger requests = new AtomicInteger(), served = new AtomicInteger(), unavailable = new AtomicInteger(),
                    streamUnavailable = new AtomicInteger(), lost = new AtomicInteger(), hung = new AtomicInteger(),
                    corrupt = new AtomicInteger(), servedAfterLast = new AtomicInteger(), streams = new AtomicInteger();
            AtomicLong slowest = new AtomicLong();
            Map<String, AtomicInteger> other = new ConcurrentHashMap<>();
            ConcurrentLinkedQueue<String> examples = new ConcurrentLinkedQueue<>();
            final int fTimeout = timeoutS, fMax = maxTokens;
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            for (int t = 0; t < clients; t++) {
                final int worker = t;
                pool.submit(() -> {
                    SplittableRandom rnd = new SplittableRandom(worker);
                    while (!stop.get()) {
                        int d = rnd.nextInt(docs), op = rnd.nextInt(20);
                        String id = ids[d];
                        String method = "POST", path, body = null;
                        boolean stream = false;
                        if (op < 8) { // streaming generate, a quarter of them saving the state reached
                            stream = true;
                            path = "/v1/generate";
                            body = generateBody(model, id, prompt, fMax, true, op < 2);
                        } else if (op < 13) {
                            path = "/v1/generate";
                            body = generateBody(model, id, prompt, fMax, false, false);
                        } else if (op < 17) { // prime: brings back a state lost with a kill
                            path = "/v1/states";
                            body = "{\"model\":\"" + model + "\",\"tokens\":" + docJson[d] + "}";
                        } else {
                            method = "GET";
                            path = "/v1/states/" + id;
                        }
                        requests.incrementAndGet();
                        if (stream) streams.incrementAndGet();
                        long t0 = System.nanoTime();
                        HttpResponse<String> r;
                        try {
                            r = send(client, port, method, path, body, fTimeout);
                        } catch (TimeoutException e) {
                            hung.incrementAndGet();
                            note(examples, path + " no complete answer within " + fTimeout + " s");
                            continue;
                        } catch (Exception e) {
                            count(other, "exception " + e.getClass().getSimpleName());
                            note(examples, path + ": " + e);
                            continue;
                        }
                        slowest.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
                        int s = r.statusCode();
                        String b = r.body();
                        if (s == 503) {
                            if (b.contains("store-unavailable") && r.headers().firstValue("retry-after").isPresent()) {
                                unavailable.incrementAndGet();
                            } else {
                                count(other, "503 without store-unavailable/Retry-After");
                                note(examples, path + " 503: " + b);
                            }
                        } else if (s == 404 && b.contains("unknown-state")) {
                            lost.incrementAndGet(); // died with the kill (the last second before it, or never written)
                        } else if (s == 200 || s == 201) {
                            String why = check(path, stream, b, expected.get(d), docTokens, id);
                            if (why == null) {
                                served.incrementAndGet();
                                if (afterLast.get()) servedAfterLast.incrementAndGet();
                            } else if (why.equals("unavailable")) {
                                streamUnavailable.incrementAndGet();
                            } else if (why.startsWith("corrupt")) {
                                corrupt.incrementAndGet();
                                note(examples, path + " " + why);
                            } else {
                                count(other, why);
                                note(examples, path + " " + why + ": " + b);
                            }
                        } else {
                            count(other, "HTTP " + s);
                            note(examples, path + " " + s + ": " + b);
                        }
                    }
                });
            }
            long t0 = System.nanoTime();
            for (int k = 0; k < kills; k++) {
                Thread.sleep(upMs);
                redis.kill(); // SIGKILL mid-traffic
                Thread.sleep(downMs);
                redis.start();
            }
            afterLast.set(true);
            Thread.sleep(upMs);
            stop.set(true);
            pool.shutdown();
            if (!pool.awaitTermination(timeoutS + 10L, TimeUnit.SECONDS)) {
                hung.incrementAndGet();
                note(examples, "a client thread did not finish");
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            int orphans = orphanKeys(redis.url(), prefix, examples);

            System.out.println();
            System.out.printf("bench-store --chaos: redis-server killed (SIGKILL) %d times, %d ms up / %d ms down, %s, "
                            + "read-through cache %s; %d clients for %.0f s%n", kills, upMs, downMs,
                    redis.aof ? "append-only file (everysec)" : "no persistence", cache ? "on" : "off", clients, seconds);
            System.out.println();
            System.out.println("| figure | count |");
            System.out.println("|---|---|");
            row("requests (" + streams.get() + " streaming generates)", requests.get());
            row("served and checked (2xx; generates equal the state's recorded continuation)", served.get());
            row("503 store-unavailable with Retry-After", unavailable.get());
            row("streams ended by event: error store-unavailable (save_state during an outage)", streamUnavailable.get());
            row("404 unknown-state (lost with a kill; primed again by a later request)", lost.get());
            row("hung (no complete answer within " + timeoutS + " s)", hung.get());
            row("corrupt or partial states served", corrupt.get());
            row("other answers " + new TreeMap<>(asInts(other)), asInts(other).values().stream().mapToInt(Integer::intValue).sum());
            row("keys in Redis without their partner after the run (blob xor metadata)", orphans);
            row("served after the last restart", servedAfterLast.get());
            System.out.printf("%nslowest answer: %d ms; %d distinct greedy continuations among the %d states (a state served"
                    + " wrong shows as another's continuation)%n", slowest.get(), expected.stream().distinct().count(), docs);
            examples.stream().limit(10).forEach(e -> System.out.println("  e.g. " + e));
            Result result = new Result(requests.get(), served.get(), unavailable.get(), streamUnavailable.get(), lost.get(),
                    hung.get(), corrupt.get(), asInts(other).values().stream().mapToInt(Integer::intValue).sum(), orphans,
                    servedAfterLast.get(), (int) expected.stream().distinct().count());
            System.out.println(result.ok() ? "PASS" : "FAIL");
            return result;
        } finally {
            ctx.close();
        }
    }

    /** Null when the answer is whole and right; "unavailable" for a stream ended by a store-unavailable error. */
    private static String check(String path, boolean stream, String body, List<Integer> expected, int docTokens, String id) {
        if (path.startsWith("/v1/states/")) {
            if (!id.equals(field(body, "id", null)) || !String.valueOf(docTokens).equals(field(body, "tokens", null))) {
                return "corrupt metadata: " + body;
            }
            return null;
        }
        if (path.equals("/v1/states")) return id.equals(field(body, "id", null)) ? null : "corrupt prime: " + body;
        if (!stream) {
            List<Integer> got = tokens(body);
            return expected.equals(got) ? null : "corrupt state served: " + got + " instead of " + expected;
        }
        List<Integer> got = new ArrayList<>();
        boolean done = false, error = false;
        for (String event : body.split("\n\n")) {
            if (event.startsWith("event: token")) {
                Matcher m = TOKEN.matcher(event);
                if (m.find()) got.add(Integer.parseInt(m.group(1)));
            } else if (event.startsWith("event: done")) {
                done = true;
            } else if (event.startsWith("event: error")) {
                error = true;
                if (!event.contains("store-unavailable")) return "stream error " + event;
            }
        }
        if (!got.equals(expected.subList(0, Math.min(got.size(), expected.size())))) {
            return "corrupt state streamed: " + got + " instead of " + expected;
        }
        if (error) return "unavailable";
        if (!done) return "stream ended without done or error";
        return got.equals(expected) ? null : "corrupt state streamed: " + got + " instead of " + expected;
    }

    private static int orphanKeys(String url, String prefix, ConcurrentLinkedQueue<String> examples) {
        LettuceConnectionFactory f = new LettuceConnectionFactory(LettuceConnectionFactory.createRedisConfiguration(url));
        f.afterPropertiesSet();
        f.start();
        Map<String, int[]> seen = new HashMap<>();
        try (RedisConnection c = f.getConnection();
             Cursor<byte[]> keys = c.keyCommands().scan(ScanOptions.scanOptions().match(prefix + "state:*").count(1000).build())) {
            while (keys.hasNext()) {
                String k = new String(keys.next(), java.nio.charset.StandardCharsets.UTF_8);
                int a = k.indexOf('{'), z = k.indexOf('}');
                if (a < 0 || z < a) continue;
                int[] has = seen.computeIfAbsent(k.substring(a + 1, z), x -> new int[2]);
                if (k.endsWith(":blob")) has[0]++;
                else if (k.endsWith(":meta")) has[1]++;
            }
        } finally {
            f.destroy();
        }
        int n = 0;
        for (var e : seen.entrySet()) {
            if ((e.getValue()[0] == 0) != (e.getValue()[1] == 0)) {
                n++;
                note(examples, "state " + e.getKey() + " has only its " + (e.getValue()[0] == 0 ? "metadata" : "blob"));
            }
        }
        return n;
    }

    private static String generateBody(String model, String id, String prompt, int maxTokens, boolean stream, boolean save) {
        return "{\"model\":\"" + model + "\",\"states\":[{\"id\":\"" + id + "\"}],\"prompt_tokens\":" + prompt
                + ",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"stream\":" + stream + ",\"save_state\":" + save + "}";
    }

    private static HttpResponse<String> send(HttpClient c, int port, String method, String path, String json, int timeoutS)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
        HttpRequest req = json == null ? b.method(method, HttpRequest.BodyPublishers.noBody()).build()
                : b.header("content-type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)).build();
        CompletableFuture<HttpResponse<String>> f = c.sendAsync(req, HttpResponse.BodyHandlers.ofString());
        try {
            return f.get(timeoutS, TimeUnit.SECONDS); // the whole body, a stream included
        } catch (TimeoutException e) {
            f.cancel(true);
            throw e;
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception x ? x : e;
        }
    }

    private static List<Integer> tokens(String json) {
        Matcher m = TOKENS.matcher(json);
        if (!m.find()) return List.of();
        if (m.group(1).isEmpty()) return List.of();
        return Arrays.stream(m.group(1).split(",")).map(Integer::valueOf).toList();
    }

    private static String field(String json, String name, String fallback) {
        Matcher m = Pattern.compile("\"" + name + "\":\"?([^,\"}]+)").matcher(json);
        if (m.find()) return m.group(1);
        if (fallback != null) return fallback;
        throw new IllegalStateException("no " + name + " in " + json);
    }

    private static void count(Map<String, AtomicInteger> m, String k) {
        m.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
    }

    private static Map<String, Integer> asInts(Map<String, AtomicInteger> m) {
        Map<String, Integer> r = new HashMap<>();
        m.forEach((k, v) -> r.put(k, v.get()));
        return r;
    }

    private static void note(ConcurrentLinkedQueue<String> q, String s) {
        if (q.size() < 50) q.add(s.length() > 300 ? s.substring(0, 300) + "…" : s);
    }

    private static void row(String what, long n) {
        System.out.printf("| %s | %,d |%n", what, n);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A private redis-server on 127.0.0.1 that can be SIGKILLed and started again with the same data folder. */
    static final class RedisProcess {
        final int port;
        final Path dir;
        final boolean aof;
        Process process;

        RedisProcess(int port, Path dir, boolean aof) {
            this.port = port;
            this.dir = dir;
            this.aof = aof;
        }

        String url() {
            return "redis://127.0.0.1:" + port;
        }

        RedisProcess start() throws IOException, InterruptedException {
            Files.createDirectories(dir);
            List<String> cmd = new ArrayList<>(List.of("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                    "--dir", dir.toString(), "--save", "", "--daemonize", "no"));
            cmd.addAll(aof ? List.of("--appendonly", "yes", "--appendfsync", "everysec") : List.of("--appendonly", "no"));
            try {
                process = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile())).start();
            } catch (IOException e) {
                throw new IOException("bench-store --chaos runs its own redis-server, which is not on the PATH: " + e.getMessage(), e);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) throw new IOException("redis-server exited: " + Files.readString(dir.resolve("redis.log")));
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return this;
                } catch (IOException e) {
                    Thread.sleep(20);
                }
            }
            throw new IOException("redis-server on port " + port + " did not answer within 20 s");
        }

        void kill() throws InterruptedException {
            if (process == null) return;
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            process = null;
        }
    }
}
