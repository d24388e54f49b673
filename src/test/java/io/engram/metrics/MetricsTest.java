package io.engram.metrics;

import static io.engram.testsupport.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Fixtures;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.PrometheusText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

/**
 * Each metric moves when its event happens, by exactly the expected amount, as scraped from
 * {@code /actuator/prometheus} over real HTTP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class MetricsTest {

    static Path models;

    @DynamicPropertySource
    static void props(DynamicPropertyRegistry r) throws IOException {
        models = Files.createTempDirectory("engram-metrics-test");
        OracleModelDir.create(models, "tiny");
        r.add("engram.models-dir", () -> models.toString());
        r.add("engram.limits.max-tokens", () -> "64");
        r.add("engram.scheduler.max-queued", () -> "17");
    }

    static final JsonNode ORACLE = Fixtures.json("oracle/rwkv7_a.vectors.json");
    static final Set<String> ALLOWED_TAGS = Set.of("model", "endpoint", "outcome", "store", "tier", "operation", "le");

    @Autowired
    Environment env;
    Http http;

    @BeforeEach
    void client() {
        http = new Http(Integer.parseInt(env.getProperty("local.server.port")));
    }

    PrometheusText scrape() {
        Http.Response r = http.get("/actuator/prometheus");
        assertEquals(200, r.status(), r.body());
        return PrometheusText.parse(r.body());
    }

    String prime(int[] doc) {
        Http.Response r = http.post("/v1/states", Map.of("tokens", doc));
        assertTrue(r.status() == 201 || r.status() == 200, r.body());
        return r.json().get("id").asText();
    }

    @Test
    void oneCachedGenerateMovesEachGenerationMetricByItsExactAmount() {
        String id = prime(ints(ORACLE.get("seq").get("tokens")));
        PrometheusText before = scrape();
        Http.Response r = http.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)),
                "prompt_tokens", new int[] {10, 20, 30}, "max_tokens", 5, "temperature", 0));
        assertEquals(200, r.status(), r.body());
        PrometheusText after = scrape();

        assertDelta(1, before, after, "engram_state_cache_lookups_total", "tier", "local");
        assertDelta(1, before, after, "engram_state_cache_hits_total", "tier", "local");
        assertDelta(5, before, after, "engram_generation_tokens_total", "model", "tiny");
        assertDelta(3, before, after, "engram_prompt_tokens_total", "model", "tiny");
        assertDelta(1, before, after, "engram_time_to_first_token_seconds_count", "model", "tiny", "endpoint", "generate");
        assertDelta(4, before, after, "engram_inter_token_latency_seconds_count", "model", "tiny", "endpoint", "generate");
        assertDelta(1, before, after, "engram_queue_wait_seconds_count", "model", "tiny", "endpoint", "generate");
        assertDelta(1, before, after, "engram_request_duration_seconds_count", "model", "tiny", "endpoint", "generate",
                "outcome", "length");
        assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "store", "memory", "operation", "get",
                "outcome", "ok");
        // nothing was primed or stored by this request
        assertDelta(0, before, after, "engram_prime_tokens_total", "model", "tiny");
        assertDelta(0, before, after, "engram_state_store_operations_seconds_count", "operation", "put");
        // the histograms have their SLO buckets, cumulative up to +Inf
        assertTrue(after.find("engram_time_to_first_token_seconds_bucket", "model", "tiny").size() >= 10);
        assertEquals(after.sum("engram_time_to_first_token_seconds_count", "model", "tiny"),
                after.sum("engram_time_to_first_token_seconds_bucket", "model", "tiny", "le", "+Inf"));
    }

    @Test
    void openAiEndpointsAreTaggedByEndpoint() {
        PrometheusText before = scrape();
        Http.Response r = http.post("/v1/completions", Map.of("prompt", "Hi", "max_tokens", 3, "temperature", 0));
        assertEquals(200, r.status(), r.body());
        PrometheusText after = scrape();
        assertDelta(1, before, after, "engram_request_duration_seconds_count", "model", "tiny", "endpoint", "completions");
        assertDelta(1, before, after, "engram_time_to_first_token_seconds_count", "endpoint", "completions");
        assertDelta(3, before, after, "engram_generation_tokens_total", "model", "tiny");
        assertDelta(0, before, after, "engram_request_duration_seconds_count", "endpoint", "generate");
    }

    @Test
    void aMissingStateIsALookupWithoutAHit() {
        PrometheusText before = scrape();
        Http.Response r = http.post("/v1/generate", Map.of("states", List.of(Map.of("id", "ab".repeat(32))),
                "prompt", "x", "max_tokens", 1));
        assertEquals(404, r.status());
        PrometheusText after = scrape();
        assertDelta(1, before, after, "engram_state_cache_lookups_total", "tier", "local");
        assertDelta(0, before, after, "engram_state_cache_hits_total", "tier", "local");
        assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "store", "memory", "operation", "get",
                "outcome", "miss");
        assertDelta(0, before, after, "engram_request_duration_seconds_count");
    }

    @Test
    void primingCountsTokensTimeAndStoredBytes() {
        int[] doc = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        PrometheusText before = scrape();
        prime(doc);
        PrometheusText after = scrape();
        assertDelta(11, before, after, "engram_prime_tokens_total", "model", "tiny");
        assertDelta(1, before, after, "engram_prime_duration_seconds_count", "model", "tiny");
        assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "store", "memory", "operation", "put",
                "outcome", "ok");
        // the state and its next-token logits (256 floats)
        assertDelta(9216 + 1024, before, after, "engram_state_bytes_stored", "store", "memory");
        // the same document again is found by id: no model time, no new bytes
        prime(doc);
        PrometheusText again = scrape();
        assertDelta(0, after, again, "engram_prime_tokens_total", "model", "tiny");
        assertDelta(0, after, again, "engram_state_bytes_stored", "store", "memory");
    }

    @Test
    void combiningTimesTheWeightedMean() {
        String a = prime(new int[] {40, 41, 42});
        String b = prime(new int[] {50, 51});
        PrometheusText before = scrape();
        Http.Response c = http.post("/v1/states/combine", Map.of("states",
                List.of(Map.of("id", a, "weight", 1), Map.of("id", b, "weight", 2))));
        assertTrue(c.status() == 201 || c.status() == 200, c.body());
        PrometheusText after = scrape();
        assertDelta(1, before, after, "engram_state_combine_duration_seconds_count", "model", "tiny");
        assertDelta(2, before, after, "engram_state_cache_hits_total", "tier", "local");
    }

    @Test
    void deletingIsAStoreOperation() {
        String id = prime(new int[] {99, 98, 97, 96});
        PrometheusText before = scrape();
        assertEquals(204, http.delete("/v1/states/" + id).status());
        assertEquals(404, http.delete("/v1/states/" + id).status());
        PrometheusText after = scrape();
        assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "operation", "delete", "outcome", "ok");
        assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "operation", "delete", "outcome", "miss");
        assertDelta(-(9216 + 1024), before, after, "engram_state_bytes_stored", "store", "memory");
    }

    @Test
    void modelInfoSchedulerGaugesAndProcessMemoryAreExported() {
        PrometheusText m = scrape();
        assertEquals(1.0, m.sum("engram_model_info", "model", "tiny", "architecture", "rwkv7", "dtype", "float32",
                "device", "cpu"));
        assertEquals(0.0, m.sum("engram_requests_running"));
        assertEquals(0.0, m.sum("engram_requests_waiting"));
        assertEquals(17.0, m.sum("engram_requests_waiting_capacity"));
        assertTrue(m.has("engram_requests_running"));
        assertTrue(m.has("engram_requests_waiting"));
        double rss = m.sum("process_resident_memory_bytes");
        assertTrue(rss > 50e6, "RSS " + rss);
        for (String jvm : List.of("jvm_memory_used_bytes", "jvm_threads_live_threads", "jvm_classes_loaded_classes", "jvm_gc_max_data_size_bytes",
                "process_cpu_usage", "process_uptime_seconds", "process_files_open_files", "system_cpu_count")) {
            assertTrue(m.has(jvm), jvm);
        }
    }

    @Test
    void engramMetricsCarryOnlyBoundedTags() {
        http.post("/v1/states", Map.of("tokens", new int[] {7, 7, 7}));
        for (PrometheusText.Sample s : scrape().samples()) {
            if (!s.name().startsWith("engram_")) continue;
            Set<String> allowed = s.name().equals("engram_model_info")
                    ? Set.of("model", "architecture", "dtype", "device") : ALLOWED_TAGS;
            for (var e : s.labels().entrySet()) {
                assertTrue(allowed.contains(e.getKey()), s.name() + " has tag " + e.getKey());
                assertFalse(e.getValue().matches(".*[0-9a-f]{16,}.*"), s.name() + " has an id-like value " + e.getValue());
            }
        }
    }

    static void assertDelta(double want, PrometheusText before, PrometheusText after, String name, String... labels) {
        if (want != 0) assertTrue(after.has(name), name + " is not exported");
        assertEquals(want, after.sum(name, labels) - before.sum(name, labels), 1e-9, name + " " + List.of(labels));
    }
}
