package io.engram.train;

import io.engram.EngramApplication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code eval-compose}: exact-match accuracy of every {@code compose} mode through the HTTP API of a real server
 * (started in this process on a free port, over {@code --models-dir}), the way a user would ask: each document is
 * primed with {@code POST /v1/states}, the question is asked with {@code POST /v1/generate} (greedy, as many tokens
 * as the answer has) from all the group's states with {@code compose} = mean, posterior_mean or mixture, and by
 * concatenation (documents and question as one prompt, no states). Questions are the held-out ones of
 * {@link RecallCorpus} (the generator of {@code eval-memory}), from a fixed seed. Then it times a mixture of 8
 * against 8 separate generations of the same length.
 */
public final class ComposeEval {

    static final String[] MODES = {"mean", "posterior_mean", "mixture", "concatenation"};
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final HttpClient client = HttpClient.newHttpClient();
    private final int port;
    private final String model;

    private ComposeEval(int port, String model) {
        this.port = port;
        this.model = model;
    }

    public static int run(String[] args) throws Exception {
        Path modelsDir = Path.of("models");
        String model = "demo";
        int n = 40, facts = 1, timingTokens = 64, repeats = 5;
        int[] groups = {1, 2, 4, 8, 16};
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--models-dir" -> modelsDir = Path.of(args[i + 1]);
                case "--model" -> model = args[i + 1];
                case "--n" -> n = Integer.parseInt(args[i + 1]);
                case "--facts" -> facts = Integer.parseInt(args[i + 1]);
                case "--docs" -> groups = java.util.Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--timing-tokens" -> timingTokens = Integer.parseInt(args[i + 1]);
                case "--repeats" -> repeats = Integer.parseInt(args[i + 1]);
                default -> {
                    System.err.println("usage: eval-compose [--models-dir models] [--model demo] [--n 40] [--facts 1] "
                            + "[--docs 1,2,4,8,16] [--timing-tokens 64] [--repeats 5]");
                    return 2;
                }
            }
        }
        ConfigurableApplicationContext ctx = SpringApplication.run(EngramApplication.class,
                "--engram.models-dir=" + modelsDir, "--server.port=0", "--engram.demo.enabled=false",
                "--engram.default-model=" + model, "--engram.security.access-log=false", "--logging.level.root=WARN",
                "--spring.main.banner-mode=off");
        try {
            ComposeEval e = new ComposeEval(Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port")), model);
            System.out.println("| documents | " + String.join(" | ", MODES) + " | random fact in memory |");
            System.out.println("|---:|" + "---:|".repeat(MODES.length) + "---:|");
            for (int g : groups) {
                long t0 = System.nanoTime();
                int[] correct = e.accuracy(g, facts, n, 20261206L + g);
                StringBuilder row = new StringBuilder("| " + g + " |");
                for (int c : correct) row.append(String.format(" %.1f%% (%d/%d) |", 100.0 * c / n, c, n));
                row.append(String.format(" %.1f%% |", 100.0 / (g * facts)));
                System.out.println(row);
                System.err.printf("%d documents: %.1f s%n", g, (System.nanoTime() - t0) / 1e9);
            }
            if (timingTokens > 0) e.timing(8, timingTokens, repeats);
        } finally {
            ctx.close();
        }
        return 0;
    }

    /** Correct answers per mode over {@code n} held-out questions about groups of {@code g} documents. */
    int[] accuracy(int g, int facts, int n, long seed) throws Exception {
        RecallCorpus corpus = new RecallCorpus();
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] correct = new int[MODES.length];
        for (int i = 0; i < n; i++) {
            RecallCorpus.Example ex = corpus.example(rnd, RecallCorpus.Split.HELD_OUT, g, facts);
            List<Map<String, Object>> states = new ArrayList<>();
            for (String d : ex.documentTexts()) states.add(Map.of("id", prime(d)));
            String question = ex.asked().question(), answer = ex.asked().answer();
            for (int m = 0; m < MODES.length; m++) {
                Map<String, Object> body = new LinkedHashMap<>(Map.of("model", model, "max_tokens", RecallCorpus.ANSWER_TOKENS,
                        "temperature", 0));
                if (MODES[m].equals("concatenation")) {
                    body.put("prompt", ex.concatenated() + question);
                } else {
                    body.put("states", states);
                    body.put("prompt", question);
                    body.put("compose", MODES[m]);
                }
                if (generate(body).get("text").asText().equals(answer)) correct[m]++;
            }
        }
        return correct;
    }

    /**
     * A mixture of {@code k} documents generating {@code tokens} tokens, against k separate generations of the
     * same length from each document alone: one after another, and all at once (batched by the scheduler).
     */
    void timing(int k, int tokens, int repeats) throws Exception {
        RecallCorpus corpus = new RecallCorpus();
        SplittableRandom rnd = new SplittableRandom(7);
        List<Double> mix = new ArrayList<>(), seq = new ArrayList<>(), conc = new ArrayList<>(), mixTps = new ArrayList<>(),
                mixTtft = new ArrayList<>(), oneTps = new ArrayList<>(), oneTtft = new ArrayList<>();
        for (int r = 0; r <= repeats; r++) {
            RecallCorpus.Example ex = corpus.example(rnd, RecallCorpus.Split.HELD_OUT, k, 1);
            List<String> ids = new ArrayList<>();
            for (String d : ex.documentTexts()) ids.add(prime(d));
            String q = ex.asked().question();
            List<Map<String, Object>> states = new ArrayList<>();
            for (String id : ids) states.add(Map.of("id", id));
            long t0 = System.nanoTime();
            JsonNode m = generate(Map.of("model", model, "states", states, "prompt", q, "max_tokens", tokens,
                    "temperature", 0, "compose", "mixture"));
            double mixS = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            JsonNode last = null;
            for (String id : ids) {
                last = generate(Map.of("model", model, "states", List.of(Map.of("id", id)), "prompt", q,
                        "max_tokens", tokens, "temperature", 0));
            }
            double seqS = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            List<CompletableFuture<JsonNode>> all = new ArrayList<>();
            for (String id : ids) {
                all.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return generate(Map.of("model", model, "states", List.of(Map.of("id", id)), "prompt", q,
                                "max_tokens", tokens, "temperature", 0));
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (CompletableFuture<JsonNode> f : all) f.join();
            double concS = (System.nanoTime() - t0) / 1e9;
            if (r == 0) continue;   // warm-up
            mix.add(mixS);
            seq.add(seqS);
            conc.add(concS);
            mixTps.add(m.get("timings").get("decode_tokens_per_s").asDouble());
            mixTtft.add(m.get("timings").get("ttft_ms").asDouble());
            oneTps.add(last.get("timings").get("decode_tokens_per_s").asDouble());
            oneTtft.add(last.get("timings").get("ttft_ms").asDouble());
        }
        System.out.printf("%nmixture of %d vs %d separate generations, %d tokens each, greedy, medians of %d (after 1 warm-up):%n",
                k, k, tokens, repeats);
        System.out.println("| | wall time (client) | decode tokens/s (server) | time to first token (server) |");
        System.out.println("|---|---:|---:|---:|");
        System.out.printf("| mixture of %d, one request | %.1f ms | %.1f | %.1f ms |%n", k, 1e3 * median(mix), median(mixTps), median(mixTtft));
        System.out.printf("| %d separate generations, one after another | %.1f ms | %.1f (each) | %.1f ms (each) |%n", k,
                1e3 * median(seq), median(oneTps), median(oneTtft));
        System.out.printf("| %d separate generations, concurrent (batched) | %.1f ms | | |%n", k, 1e3 * median(conc));
        System.out.printf("mixture cost relative to %d sequential generations: %.2fx cheaper; to %d concurrent: %.2fx cheaper%n",
                k, median(seq) / median(mix), k, median(conc) / median(mix));
    }

    private String prime(String text) throws Exception {
        JsonNode r = post("/v1/states", Map.of("model", model, "text", text));
        return r.get("id").asText();
    }

    private JsonNode generate(Map<String, Object> body) throws Exception {
        return post("/v1/generate", body);
    }

    private JsonNode post(String path, Object body) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
        HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() / 100 != 2) throw new IllegalStateException(path + " answered " + res.statusCode() + ": " + res.body());
        return JSON.readTree(res.body());
    }

    static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }
}
