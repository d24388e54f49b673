package io.engram.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Concurrent streaming load against a running server: N clients each stream one generation of {@code tokens}
 * tokens through {@code POST /v1/generate}; time to first token and inter-token latency are measured on the
 * client from SSE event arrival. Optionally a long document is primed at the same time.
 */
final class LoadBenchmark {

    record Result(int streams, double aggregateTokensPerS, double ttftP50, double ttftP99, double itlP50,
                  double itlP99, int errors, boolean withPrime, int primeTokens, double primeSeconds) {}

    private final HttpClient client = HttpClient.newHttpClient();
    private final int port;

    LoadBenchmark(int port) {
        this.port = port;
    }

    Result run(int streams, int tokens, Integer concurrentPrimeTokens) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(streams + 1);
        List<Double> ttft = Collections.synchronizedList(new ArrayList<>());
        List<Double> itl = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger errors = new AtomicInteger(), generated = new AtomicInteger();
        CompletableFuture<Void> prime = null;
        double[] primeSeconds = {0};
        if (concurrentPrimeTokens != null) {
            // a new document every run: the same one would be answered from the store without priming
            int[] doc = new java.util.Random(System.nanoTime()).ints(concurrentPrimeTokens, 1, 60000).toArray();
            String body = "{\"tokens\":" + Arrays.toString(doc).replace(" ", "") + "}";
            prime = CompletableFuture.runAsync(() -> {
                try {
                    long p0 = System.nanoTime();
                    post("/v1/states", body);
                    primeSeconds[0] = (System.nanoTime() - p0) / 1e9;
                } catch (Exception e) {
                    errors.incrementAndGet();
                }
            }, pool);
            Thread.sleep(1500); // let the prime get going before the streams start
        }
        long t0 = System.nanoTime();
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            int seed = i;
            all.add(CompletableFuture.runAsync(() -> stream(seed, tokens, ttft, itl, errors, generated), pool));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
        double wall = (System.nanoTime() - t0) / 1e9;
        if (prime != null) prime.join();
        pool.shutdown();
        return new Result(streams, generated.get() / wall, pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99),
                errors.get(), concurrentPrimeTokens != null, concurrentPrimeTokens == null ? 0 : concurrentPrimeTokens,
                primeSeconds[0]);
    }

    private void stream(int seed, int tokens, List<Double> ttft, List<Double> itl, AtomicInteger errors, AtomicInteger generated) {
        String body = "{\"prompt\":\"Load test stream " + seed + ": tell me a story.\",\"max_tokens\":" + tokens
                + ",\"temperature\":1.0,\"seed\":" + seed + ",\"stream\":true}";
        long start = System.nanoTime(), last = 0;
        try {
            HttpResponse<java.util.stream.Stream<String>> res = client.send(request("/v1/generate", body),
                    HttpResponse.BodyHandlers.ofLines());
            if (res.statusCode() != 200) {
                errors.incrementAndGet();
                return;
            }
            for (String line : (Iterable<String>) res.body()::iterator) {
                if (line.equals("event: token")) {
                    long now = System.nanoTime();
                    if (last == 0) ttft.add((now - start) / 1e6);
                    else itl.add((now - last) / 1e6);
                    last = now;
                    generated.incrementAndGet();
                } else if (line.equals("event: error")) {
                    errors.incrementAndGet();
                }
            }
        } catch (Exception e) {
            errors.incrementAndGet();
        }
    }

    private String post(String path, String json) throws Exception {
        HttpResponse<String> r = client.send(request(path, json), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) throw new IllegalStateException(path + " answered " + r.statusCode() + ": " + r.body());
        return r.body();
    }

    private HttpRequest request(String path, String json) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    private static double pct(List<Double> xs, int p) {
        if (xs.isEmpty()) return Double.NaN;
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a[Math.min(a.length - 1, (int) Math.ceil(p / 100.0 * a.length) - 1)];
    }

    static void print(List<Result> rs) {
        System.out.println("| streams | concurrent prime | aggregate tok/s | TTFT p50 / p99 (ms) | ITL p50 / p99 (ms) | errors |");
        System.out.println("|---|---|---|---|---|---|");
        for (Result r : rs) {
            String prime = r.withPrime() ? String.format("%d tokens in %.1f s", r.primeTokens(), r.primeSeconds()) : "none";
            System.out.printf("| %d | %s | %.1f | %.0f / %.0f | %.1f / %.1f | %d |%n", r.streams(), prime,
                    r.aggregateTokensPerS(), r.ttftP50(), r.ttftP99(), r.itlP50(), r.itlP99(), r.errors());
        }
    }
}
