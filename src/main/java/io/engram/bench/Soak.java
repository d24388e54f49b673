package io.engram.bench;

import io.engram.metrics.ProcessMemoryMetrics;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntSupplier;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A soak and overload run against an Engram server in this process, over loopback HTTP: workers send a mix of
 * primes, combines, JSON and SSE generations, OpenAI streams (completions and chat), imports of good and bad
 * blobs, invalid requests, and streams they drop after a few events; with more workers than the server's
 * {@code max-queued + max-running}, some requests are refused (429). It records every status, the live platform
 * threads of the server (this process's threads less the client's own), and the resident set
 * ({@code process_resident_memory_bytes}, read from {@code /proc/self/status} as the metric is).
 *
 * <p>Used by {@code SoakTest} (in {@code mvn verify}) and by {@code bench --soak} (longer runs).
 */
public final class Soak {

    /** Client threads are named so, and left out of the server's thread count. */
    static final String CLIENT = "soak-client";

    /**
     * @param requests    stop after this many requests (or {@code seconds}, whichever comes first)
     * @param seconds     stop after this long; 0 = no time bound
     * @param concurrency client workers sending at once
     */
    public record Options(long requests, long seconds, int concurrency, long seed) {}

    /**
     * One sample: requests done so far, resident bytes, the Java heap's committed bytes (part of the resident set,
     * grown and shrunk by the collector, so a leak check subtracts it), server threads.
     */
    public record Sample(long elapsedMs, long requests, double rssBytes, double heapCommittedBytes, int threads) {

        /**
         * Resident bytes outside the Java heap: native tensors, allocator arenas, thread stacks, metaspace. Exact when
         * committed heap pages are resident ({@code -XX:+AlwaysPreTouch}, as the test JVM runs); otherwise heap pages
         * committed but not yet touched make it an underestimate that grows as they are touched.
         */
        public double offHeapBytes() {
            return rssBytes - heapCommittedBytes;
        }
    }

    /**
     * The outcome.
     *
     * @param byStatus    responses by HTTP status (and {@code "io"} for client-side failures other than the
     *                    deliberate disconnects)
     * @param violations  5xx other than 429/503 with Retry-After, 429/503 without it, streams that ended in an
     *                    internal error, client I/O failures, exceptions that killed a thread: at most 20 examples
     * @param threadsWarm the most server threads seen in the first half of the run (pools at their working size)
     * @param offHeapMid  resident bytes outside the Java heap around the half-way point (median of 5 samples)
     * @param liveHeapStart Java heap in use after a full collection, before the warm-up run
     * @param liveHeapEnd   the same after it
     */
    public record Report(long requests, double seconds, Map<String, Long> byStatus, long violationCount,
                         List<String> violations, int threadsStart, int threadsWarm, int threadsEnd, int threadsPeak,
                         double rssStart, double rssMid, double rssEnd, double rssPeak, double offHeapMid,
                         double offHeapEnd, double liveHeapStart, double liveHeapEnd, int runningAfter,
                         int waitingAfter, Map<String, Integer> threadsGained, List<Sample> samples) {

        /** RSS growth over the last half of the run: the end minus the half-way point. */
        public double rssGrowthLastHalf() {
            return rssEnd - rssMid;
        }

        /**
         * Growth of the resident bytes outside the Java heap over the last half: where a native leak (an NDArray
         * outside its scope, a thread per request) shows, without the collector's heap resizing in it.
         */
        public double offHeapGrowthLastHalf() {
            return offHeapEnd - offHeapMid;
        }

        /** Growth of the live Java heap (after a full collection) over the whole measured run. */
        public double liveHeapGrowth() {
            return liveHeapEnd - liveHeapStart;
        }

        /** Server threads at the end above the first half's peak: a leak per request keeps adding to them. */
        public int threadsGainedLastHalf() {
            return threadsEnd - threadsWarm;
        }

        @Override
        public String toString() {
            return String.format("requests %d in %.0f s (%.0f/s); by status %s; violations %d%s; threads start %d end %d peak %d; "
                            + "first-half peak %d; "
                            + "RSS start %.0f MiB, mid %.0f MiB, end %.0f MiB, peak %.0f MiB, growth over last half %+.1f MiB "
                            + "(off-heap %+.1f MiB, off-heap mid %.0f end %.0f MiB); live heap after GC start %.0f end %.0f MiB "
                            + "(%+.1f MiB); after: running %d, waiting %d; threads gained by name %s",
                    requests, seconds, requests / seconds, byStatus, violationCount, violations.isEmpty() ? "" : " " + violations,
                    threadsStart, threadsEnd, threadsPeak, threadsWarm, rssStart / MIB, rssMid / MIB, rssEnd / MIB,
                    rssPeak / MIB, rssGrowthLastHalf() / MIB, offHeapGrowthLastHalf() / MIB, offHeapMid / MIB,
                    offHeapEnd / MIB, liveHeapStart / MIB, liveHeapEnd / MIB, liveHeapGrowth() / MIB, runningAfter,
                    waitingAfter, threadsGained);
        }
    }

    static final double MIB = 1024.0 * 1024.0;

    private final int port;
    private final IntSupplier running, waiting;
    private final HttpClient http;
    private final ExecutorService clientPool;
    private final Map<String, AtomicLong> byStatus = new ConcurrentHashMap<>();
    private final AtomicLong violationCount = new AtomicLong();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final List<String> stateIds = Collections.synchronizedList(new ArrayList<>());
    private final List<byte[]> blobs = Collections.synchronizedList(new ArrayList<>());
    private final ProcessMemoryMetrics memory = new ProcessMemoryMetrics();

    /** Drives the server on {@code port}; {@code running}/{@code waiting} are its scheduler's gauges. */
    public Soak(int port, IntSupplier running, IntSupplier waiting) {
        this.port = port;
        this.running = running;
        this.waiting = waiting;
        AtomicInteger n = new AtomicInteger();
        this.clientPool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, CLIENT + "-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.http = HttpClient.newBuilder().executor(clientPool).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** A short run of the same mix (pools reach their working size), then the measured run. */
    public Report run(Options o) throws Exception {
        Thread.UncaughtExceptionHandler before = Thread.getDefaultUncaughtExceptionHandler();
        // a server thread that dies of an exception is a defect (its pool replaces it, so thread counts miss it)
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> violation("uncaught", t.getName().replaceAll("[0-9]+", "#")
                + ": " + e));
        try {
            return measure(o);
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(before);
        }
    }

    private Report measure(Options o) throws Exception {
        // before the warm-up: the collection may uncommit heap pages, which the warm-up then commits again
        double liveHeapStart = liveHeapAfterGc();
        // 2% of the requests, at most 2,000: a time-bounded run (requests unbounded) must not warm up forever
        drive(new Options(Math.max(100, Math.min(o.requests() / 50, 2_000)), 0, o.concurrency(), o.seed() + 1), null);
        awaitIdle();
        byStatus.clear();
        violations.clear();
        violationCount.set(0);
        int threadsStart = serverThreads();
        Map<String, Integer> namesStart = threadNames();
        double rssStart = memory.residentBytes();
        List<Sample> samples = new CopyOnWriteArrayList<>();
        long t0 = System.nanoTime();
        long done = drive(o, samples);
        double seconds = (System.nanoTime() - t0) / 1e9;
        awaitIdle();
        int threadsEnd = serverThreads();
        Map<String, Integer> gained = threadNames();
        namesStart.forEach((k, v) -> gained.merge(k, -v, Integer::sum));
        gained.values().removeIf(v -> v == 0);
        Sample end = sample(t0, done, threadsEnd);
        samples.add(end);
        double rssMid = atHalf(samples, done, Sample::rssBytes);
        double offHeapMid = atHalf(samples, done, Sample::offHeapBytes);
        int warm = samples.stream().filter(x -> x.requests() <= done / 2).mapToInt(Sample::threads).max().orElse(threadsStart);
        int peak = samples.stream().mapToInt(Sample::threads).max().orElse(threadsEnd);
        double rssPeak = samples.stream().mapToDouble(Sample::rssBytes).max().orElse(end.rssBytes());
        double liveHeapEnd = liveHeapAfterGc();
        Map<String, Long> statuses = new TreeMap<>();
        byStatus.forEach((k, v) -> statuses.put(k, v.get()));
        return new Report(done, seconds, statuses, violationCount.get(), List.copyOf(violations), threadsStart, warm,
                threadsEnd, peak, rssStart, rssMid, end.rssBytes(), rssPeak, offHeapMid, end.offHeapBytes(), liveHeapStart,
                liveHeapEnd, running.getAsInt(), waiting.getAsInt(), gained, List.copyOf(samples));
    }

    private Sample sample(long t0, long requests, int threads) {
        return new Sample((System.nanoTime() - t0) / 1_000_000, requests, memory.residentBytes(),
                ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted(), threads);
    }

    /** Java heap in use after a full collection (run twice, so objects held only by cleaners are gone too). */
    private static double liveHeapAfterGc() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The median of {@code value} over the samples taken around the half-way request count. */
    private static double atHalf(List<Sample> samples, long done, ToDoubleFunction<Sample> value) {
        List<Sample> s = new ArrayList<>(samples);
        s.sort((a, b) -> Long.compare(Math.abs(a.requests() - done / 2), Math.abs(b.requests() - done / 2)));
        double[] near = s.stream().limit(5).mapToDouble(value).sorted().toArray();
        return near.length == 0 ? Double.NaN : near[near.length / 2];
    }

    /** Waits until the scheduler is idle (every request answered, every stream ended or dropped). */
    private void awaitIdle() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while ((running.getAsInt() > 0 || waiting.getAsInt() > 0) && System.nanoTime() < end) Thread.sleep(20);
        Thread.sleep(500); // writers finish their last write, pooled threads go back to their pools
    }

    /** Platform threads of this process, less the soak client's own (its workers and the HTTP client's). */
    public static int serverThreads() {
        int n = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && !t.getName().startsWith(CLIENT) && !t.getName().startsWith("HttpClient-")) n++;
        }
        return n;
    }

    /** The server's platform threads by name, digits folded ({@code http-nio-#-exec-#}). */
    static Map<String, Integer> threadNames() {
        Map<String, Integer> out = new TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && !t.getName().startsWith(CLIENT) && !t.getName().startsWith("HttpClient-")) {
                out.merge(t.getName().replaceAll("[0-9]+", "#"), 1, Integer::sum);
            }
        }
        return out;
    }

    private long drive(Options o, List<Sample> samples) throws Exception {
        AtomicLong count = new AtomicLong();
        long deadline = o.seconds() > 0 ? System.nanoTime() + TimeUnit.SECONDS.toNanos(o.seconds()) : Long.MAX_VALUE;
        AtomicInteger n = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(o.concurrency(), r -> {
            Thread t = new Thread(r, CLIENT + "-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        long t0 = System.nanoTime();
        Thread sampler = null;
        if (samples != null) {
            sampler = new Thread(() -> {
                try {
                    while (!Thread.currentThread().isInterrupted()) {
                        samples.add(sample(t0, count.get(), serverThreads()));
                        Thread.sleep(250);
                    }
                } catch (InterruptedException e) {
                    // done
                }
            }, CLIENT + "-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }
        for (int w = 0; w < o.concurrency(); w++) {
            Random rnd = new Random(o.seed() * 1000 + w);
            workers.execute(() -> {
                while (System.nanoTime() < deadline && count.incrementAndGet() <= o.requests()) {
                    try {
                        one(rnd);
                    } catch (Exception e) {
                        violation("io", e.getClass().getSimpleName() + ": " + e.getMessage());
                    }
                }
            });
        }
        workers.shutdown();
        workers.awaitTermination(Math.max(1, o.seconds() * 2 + 3600), TimeUnit.SECONDS);
        if (sampler != null) {
            sampler.interrupt();
            sampler.join();
        }
        return Math.min(count.get(), o.requests());
    }

    /** One request of the mix. */
    private void one(Random rnd) throws Exception {
        int k = rnd.nextInt(100);
        String someId = someState(rnd);
        if (k < 20 || someId == null) {                                           // prime (sometimes a repeat)
            String text = "doc " + rnd.nextInt(k < 10 ? 50 : 1_000_000) + " " + "abcdefgh".repeat(1 + rnd.nextInt(8));
            var r = post("/v1/states", "{\"text\":\"" + text + "\",\"ttl_seconds\":600}");
            Matcher m = ID.matcher(r.body());
            if (r.statusCode() == 201 && m.find()) remember(m.group(1));
        } else if (k < 28) {                                                      // combine two
            String other = someState(rnd);
            var r = post("/v1/states/combine", "{\"states\":[{\"id\":\"" + someId + "\",\"weight\":" + (1 + rnd.nextInt(3))
                    + "},{\"id\":\"" + other + "\",\"weight\":1}],\"ttl_seconds\":600}");
            Matcher m = ID.matcher(r.body());
            if (r.statusCode() == 201 && m.find()) remember(m.group(1));
        } else if (k < 42) {                                                      // generate, JSON
            post("/v1/generate", "{\"states\":[{\"id\":\"" + someId + "\"}],\"prompt\":\" q\",\"max_tokens\":" + (1 + rnd.nextInt(8))
                    + ",\"temperature\":0.8,\"seed\":" + rnd.nextInt(1000) + (rnd.nextBoolean() ? ",\"logprobs\":3" : "") + "}");
        } else if (k < 54) {                                                      // generate, SSE
            stream("/v1/generate", "{\"states\":[{\"id\":\"" + someId + "\"}],\"prompt\":\" q\",\"max_tokens\":" + (1 + rnd.nextInt(8))
                    + ",\"stream\":true,\"seed\":" + rnd.nextInt(1000) + "}");
        } else if (k < 62) {                                                      // OpenAI completion stream
            stream("/v1/completions", "{\"prompt\":\"hello " + rnd.nextInt(100) + "\",\"max_tokens\":" + (1 + rnd.nextInt(8))
                    + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        } else if (k < 68) {                                                      // OpenAI chat stream
            stream("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi " + rnd.nextInt(100)
                    + "\"}],\"max_tokens\":" + (1 + rnd.nextInt(8)) + ",\"stream\":true,\"states\":[{\"id\":\"" + someId + "\"}]}");
        } else if (k < 74) {                                                      // export a blob, import it
            var r = http.send(HttpRequest.newBuilder(uri("/v1/states/" + someId + "/blob")).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            record(r.statusCode(), r.headers().firstValue("Retry-After").isPresent(), "GET blob");
            if (r.statusCode() == 200) {
                if (blobs.size() < 16) blobs.add(r.body());
                postBytes(r.body());
            }
        } else if (k < 80) {                                                      // import a bad blob
            byte[] bad;
            synchronized (blobs) {
                bad = blobs.isEmpty() ? new byte[64] : blobs.get(rnd.nextInt(blobs.size())).clone();
            }
            if (rnd.nextBoolean()) bad[rnd.nextInt(bad.length)] ^= (byte) (1 + rnd.nextInt(255));   // a flipped byte
            else bad = java.util.Arrays.copyOf(bad, rnd.nextInt(bad.length));                        // cut short
            postBytes(bad);
        } else if (k < 88) {                                                      // invalid input, each must be a 4xx
            String[] bad = {"{\"text\":\"a\",\"ttl_seconds\":9223372036854775807}", "{\"tokens\":[-1]}", "{\"text\":",
                    "{\"tokens\":\"x\"}"};
            post(k % 2 == 0 ? "/v1/states" : "/v1/generate", bad[rnd.nextInt(bad.length)]);
        } else if (k < 94) {                                                      // read a few events, then hang up
            disconnect(rnd);
        } else {                                                                  // metadata, delete, unknown id
            var r = http.send(HttpRequest.newBuilder(uri("/v1/states/" + someId)).GET().build(), HttpResponse.BodyHandlers.ofString());
            record(r.statusCode(), r.headers().firstValue("Retry-After").isPresent(), "GET state");
            if (rnd.nextInt(4) == 0) {
                forget(someId);
                var d = http.send(HttpRequest.newBuilder(uri("/v1/states/" + someId)).DELETE().build(), HttpResponse.BodyHandlers.ofString());
                record(d.statusCode(), d.headers().firstValue("Retry-After").isPresent(), "DELETE state");
            }
        }
    }

    private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f]{64})\"");

    private String someState(Random rnd) {
        synchronized (stateIds) {
            return stateIds.isEmpty() ? null : stateIds.get(rnd.nextInt(stateIds.size()));
        }
    }

    private void remember(String id) {
        synchronized (stateIds) {
            if (stateIds.size() >= 256) stateIds.remove(0);
            stateIds.add(id);
        }
    }

    private void forget(String id) {
        stateIds.remove(id);
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        var r = http.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
        record(r.statusCode(), r.headers().firstValue("Retry-After").isPresent(), "POST " + path + " " + cut(r.body()));
        return r;
    }

    private void postBytes(byte[] blob) throws Exception {
        var r = http.send(HttpRequest.newBuilder(uri("/v1/states/import?ttl_seconds=600")).header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(blob)).timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
        record(r.statusCode(), r.headers().firstValue("Retry-After").isPresent(), "import " + cut(r.body()));
        Matcher m = ID.matcher(r.body());
        if (r.statusCode() == 201 && m.find()) remember(m.group(1));
    }

    /** A stream read to its end; an {@code internal} error event inside it is a violation. */
    private void stream(String path, String json) throws Exception {
        var r = http.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
        record(r.statusCode(), r.headers().firstValue("Retry-After").isPresent(), "stream " + path + " " + cut(r.body()));
        if (r.statusCode() == 200 && r.body().contains("problems/internal")) violation("stream-internal", path + " " + cut(r.body()));
    }

    /** A long stream whose client reads a few events and closes the connection. */
    private void disconnect(Random rnd) throws Exception {
        String body = "{\"prompt\":\"x\",\"max_tokens\":400,\"stream\":true,\"seed\":" + rnd.nextInt(1000) + "}";
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(120_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String status = r.readLine();
            int code = status == null ? -1 : Integer.parseInt(status.split(" ")[1]);
            boolean retryAfter = false;
            for (String line; (line = r.readLine()) != null && !line.isEmpty(); ) {
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("retry-after:")) retryAfter = true;
            }
            record(code, retryAfter, "disconnecting stream");
            int events = 0, want = 1 + rnd.nextInt(5);
            if (code == 200) {
                for (String line; events < want && (line = r.readLine()) != null; ) if (line.startsWith("event: token")) events++;
            }
        } // closed mid-stream
    }

    private void record(int status, boolean retryAfter, String what) {
        byStatus.computeIfAbsent(String.valueOf(status), x -> new AtomicLong()).incrementAndGet();
        if ((status == 429 || status == 503) && !retryAfter) violation(String.valueOf(status), "no Retry-After: " + what);
        else if (status >= 500 && status != 503) violation(String.valueOf(status), what);
    }

    private void violation(String kind, String what) {
        if (kind.equals("io")) byStatus.computeIfAbsent("io", x -> new AtomicLong()).incrementAndGet();
        violationCount.incrementAndGet();
        if (violations.size() < 20) violations.add(kind + ": " + what);
    }

    private static String cut(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    /**
     * {@code bench --soak [--minutes 30 | --seconds N] [--requests N] [--concurrency 12] [--models-dir models]
     * [--max-queued 8] [--max-running 4] [--memory-max-bytes 67108864] [--seed 14]}: starts the server in this
     * process over the models folder (by default the repository's {@code models/}, the trained demo model), runs the
     * soak mix until the time or request bound, and prints the figures: requests, responses by status, violations
     * (5xx but 503 with Retry-After, 429/503 without it, internal errors inside streams, client I/O failures),
     * server threads at the start, end and peak, RSS at the start, half-way and end, and an RSS line a minute.
     */
    public static int command(String[] args) throws Exception {
        long seconds = 600, requests = Long.MAX_VALUE, seed = 14;
        int concurrency = 12, maxQueued = 8, maxRunning = 4;
        long memory = 64L << 20;
        String modelsDir = "models";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--soak" -> { }
                case "--minutes" -> seconds = 60L * Long.parseLong(args[++i]);
                case "--seconds" -> seconds = Long.parseLong(args[++i]);
                case "--requests" -> requests = Long.parseLong(args[++i]);
                case "--concurrency" -> concurrency = Integer.parseInt(args[++i]);
                case "--models-dir" -> modelsDir = args[++i];
                case "--max-queued" -> maxQueued = Integer.parseInt(args[++i]);
                case "--max-running" -> maxRunning = Integer.parseInt(args[++i]);
                case "--memory-max-bytes" -> memory = Long.parseLong(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + "\nusage: bench --soak [--minutes N | --seconds N] [--requests N] "
                            + "[--concurrency N] [--models-dir DIR] [--max-queued N] [--max-running N] [--memory-max-bytes N] [--seed N]");
                    return 2;
                }
            }
        }
        var ctx = org.springframework.boot.SpringApplication.run(io.engram.EngramApplication.class,
                "--engram.models-dir=" + modelsDir, "--server.port=0", "--engram.demo.enabled=false",
                "--engram.scheduler.max-queued=" + maxQueued, "--engram.scheduler.max-running=" + maxRunning,
                "--engram.memory.max-bytes=" + memory, "--logging.level.root=WARN", "--spring.main.banner-mode=off");
        try {
            var scheduler = ctx.getBean(io.engram.scheduler.DeviceScheduler.class);
            Soak soak = new Soak(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")), scheduler::running, scheduler::waiting);
            System.out.printf("soak: %s s or %s requests, %d clients, max-queued %d, max-running %d, memory store %d MiB, %d CPUs%n",
                    seconds, requests == Long.MAX_VALUE ? "unbounded" : requests, concurrency, maxQueued, maxRunning, memory >> 20,
                    Runtime.getRuntime().availableProcessors());
            Report r;
            try {
                r = soak.run(new Options(requests, seconds, concurrency, seed));
            } finally {
                soak.close();
            }
            long minute = -1;
            for (Sample x : r.samples()) {
                if (x.elapsedMs() / 60_000 != minute) {
                    minute = x.elapsedMs() / 60_000;
                    System.out.printf("  t=%4d s  requests %8d  RSS %6.0f MiB  off-heap %6.0f MiB  threads %d%n",
                            x.elapsedMs() / 1000, x.requests(), x.rssBytes() / MIB, x.offHeapBytes() / MIB, x.threads());
                }
            }
            System.out.println("soak: " + r);
            return r.violationCount() == 0 && r.runningAfter() == 0 && r.waitingAfter() == 0 ? 0 : 1;
        } finally {
            ctx.close();
        }
    }

    /** Closes the client. */
    public void close() {
        clientPool.shutdownNow();
    }
}
