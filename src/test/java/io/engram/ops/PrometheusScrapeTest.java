package io.engram.ops;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Fixtures;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.Tools;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * A real Prometheus (Debian's package) scrapes a running Engram every second and evaluates the shipped rules; after
 * some traffic its HTTP API must answer {@code engram_generation_tokens_total}, a {@code histogram_quantile} of the
 * time to first token, the recording rules, and every query of the Grafana dashboard.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class PrometheusScrapeTest {

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path RULES = ROOT.resolve("deploy/prometheus/engram-rules.yml");
    static final Path DASHBOARD = ROOT.resolve("deploy/grafana/engram.json");
    static Path models;
    static Process prometheus;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws IOException {
        models = Files.createTempDirectory("engram-prom-test");
        OracleModelDir.create(models, "tiny");
        r.add("engram.models-dir", () -> models.toString());
    }

    @Autowired
    Environment env;

    @AfterAll
    static void stop() throws InterruptedException {
        if (prometheus != null) {
            prometheus.destroy();
            if (!prometheus.waitFor(20, TimeUnit.SECONDS)) prometheus.destroyForcibly();
        }
    }

    @Test
    void prometheusScrapesEngramAndAnswersTheDashboardsQueries() throws Exception {
        Path bin = Tools.require("prometheus", "ENGRAM_PROMETHEUS", "apt-get install prometheus");
        int engramPort = Integer.parseInt(env.getProperty("local.server.port"));
        Http engram = new Http(engramPort);
        Path dir = Files.createTempDirectory("engram-prometheus");
        int port = freePort();
        Files.writeString(dir.resolve("prometheus.yml"), """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - %s
                scrape_configs:
                  - job_name: engram
                    metrics_path: /actuator/prometheus
                    static_configs:
                      - targets: ["127.0.0.1:%d"]
                """.formatted(RULES, engramPort));
        prometheus = new ProcessBuilder(bin.toString(), "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn").redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        Http prom = new Http(port);
        await("Prometheus ready", dir, () -> ok(prom, "/-/ready"));
        await("Engram scraped (up == 1)", dir, () -> !query(prom, "up{job=\"engram\"} == 1").isEmpty());

        // traffic spread over several scrapes, so rate() sees it grow
        JsonNode oracle = Fixtures.json("oracle/rwkv7_a.vectors.json");
        int generated = 0;
        String other = engram.post("/v1/states", Map.of("text", "another document")).json().get("id").asText();
        for (int round = 0; round < 4; round++) {
            String id = engram.post("/v1/states", Map.of("tokens", ints(oracle.get("seq").get("tokens")))).json().get("id").asText();
            Http.Response mixed = engram.post("/v1/generate", Map.of("states", List.of(Map.of("id", id), Map.of("id", other,
                    "weight", 0.5)), "prompt", "Mix", "max_tokens", 4, "temperature", 0));
            assertEquals(200, mixed.status(), mixed.body());
            generated += mixed.json().get("usage").get("completion_tokens").asInt();
            for (int i = 0; i < 3; i++) {
                Http.Response r = engram.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)),
                        "prompt", "Q" + i, "max_tokens", 6, "temperature", 0.7, "seed", i));
                assertEquals(200, r.status(), r.body());
                generated += r.json().get("usage").get("completion_tokens").asInt();
            }
            Thread.sleep(1200);
        }
        final int total = generated;
        await("engram_generation_tokens_total == " + total, dir, () -> {
            List<JsonNode> r = query(prom, "engram_generation_tokens_total{model=\"tiny\"}");
            return !r.isEmpty() && r.get(0).get("value").get(1).asDouble() == total;
        });
        String ttftP99 = "histogram_quantile(0.99, sum by (le) (rate(engram_time_to_first_token_seconds_bucket[1m])))";
        await("a finite p99 of time to first token", dir, () -> {
            List<JsonNode> r = query(prom, ttftP99);
            return !r.isEmpty() && Double.isFinite(r.get(0).get("value").get(1).asDouble())
                    && r.get(0).get("value").get(1).asDouble() > 0;
        });
        // the recording rules evaluate on real data
        for (String recorded : List.of("engram:time_to_first_token_seconds:p99_5m", "engram:generation_tokens:rate5m",
                "engram:state_cache_hit_ratio:rate5m", "engram:requests_waiting:saturation", "engram:prime_tokens:rate5m")) {
            await(recorded + " has a value", dir, () -> !query(prom, recorded).isEmpty());
        }
        assertEquals(1.0, query(prom, "engram:state_cache_hit_ratio:rate5m{tier=\"local\"}").get(0).get("value").get(1).asDouble());

        // every rule loaded and healthy
        JsonNode groups = prom.get("/api/v1/rules").json().get("data").get("groups");
        Set<String> names = new HashSet<>();
        for (JsonNode g : groups) {
            for (JsonNode rule : g.get("rules")) {
                names.add(rule.get("name").asText());
                assertEquals("ok", rule.get("health").asText(), rule.toString());
            }
        }
        assertTrue(names.containsAll(List.of("EngramHighTimeToFirstToken", "EngramQueueSaturated",
                "EngramStateStoreErrors", "EngramCacheHitRateDrop")), names.toString());

        // the dashboard's queries are valid PromQL over metrics that exist
        Set<String> known = new HashSet<>();
        prom.get("/api/v1/label/__name__/values").json().get("data").forEach(n -> known.add(n.asText()));
        known.addAll(names);
        for (String expr : dashboardQueries()) {
            String q = expr.replace("$__rate_interval", "1m").replace("$model", ".*").replace("$instance", ".*");
            Http.Response r = prom.get("/api/v1/query?query=" + URLEncoder.encode(q, StandardCharsets.UTF_8));
            assertEquals(200, r.status(), q + " -> " + r.body());
            Matcher m = Pattern.compile("\\b(engram[:_][a-z0-9_:]+|process_[a-z_]+|jvm_[a-z_]+)").matcher(q);
            while (m.find()) {
                String metric = m.group(1);
                assertTrue(known.contains(metric), "the dashboard queries " + metric + ", which Prometheus does not have");
            }
        }
    }

    static List<String> dashboardQueries() throws IOException {
        List<String> out = new ArrayList<>();
        collect(Http.JSON.readTree(DASHBOARD.toFile()), out);
        assertFalse(out.isEmpty());
        return out;
    }

    static void collect(JsonNode n, List<String> out) {
        if (n.isObject()) {
            if (n.has("expr")) out.add(n.get("expr").asText());
            n.properties().forEach(e -> collect(e.getValue(), out));
        } else if (n.isArray()) {
            n.forEach(c -> collect(c, out));
        }
    }

    static boolean ok(Http http, String path) {
        try {
            return http.get(path).status() == 200;
        } catch (AssertionError notYet) {
            return false;
        }
    }

    static List<JsonNode> query(Http prom, String promql) {
        JsonNode res = prom.get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).json();
        assertEquals("success", res.get("status").asText(), res.toString());
        List<JsonNode> out = new ArrayList<>();
        res.get("data").get("result").forEach(out::add);
        return out;
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void await(String what, Path dir, Check check) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < until) {
            if (prometheus != null && !prometheus.isAlive()) {
                throw new AssertionError("prometheus exited: " + Files.readString(dir.resolve("prometheus.log")));
            }
            if (check.ok()) return;
            Thread.sleep(250);
        }
        throw new AssertionError("timed out waiting for " + what + "; prometheus log:\n"
                + Files.readString(dir.resolve("prometheus.log")));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

}
