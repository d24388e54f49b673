package io.engram.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.PrometheusText;
import io.engram.testsupport.TestApp;
import io.engram.testsupport.TestRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * With the Redis store, a state load is a lookup in two tiers: {@code redis} (is the state in Redis) and
 * {@code local} (was it served from this process's read-through cache), and store calls are tagged {@code redis}.
 */
class RedisMetricsTest {

    @Test
    void stateLoadsCountInTheRedisAndLocalTiers() throws Exception {
        Path models = Files.createTempDirectory("engram-redis-metrics");
        OracleModelDir.create(models, "tiny");
        String prefix = "engram-test-" + UUID.randomUUID() + ":";
        try (TestApp a = TestApp.start(models, TestApp.redis(TestRedis.url(), prefix));
             TestApp b = TestApp.start(models, TestApp.redis(TestRedis.url(), prefix))) {
            String id = a.http().post("/v1/states", Map.of("tokens", new int[] {1, 2, 3, 4, 5})).json().get("id").asText();
            Map<String, Object> gen = Map.of("states", List.of(Map.of("id", id)), "prompt_tokens", new int[] {6},
                    "max_tokens", 2, "temperature", 0);

            // on the replica that primed it, the state is in the local cache too
            PrometheusText before = scrape(a.http());
            assertEquals(200, a.http().post("/v1/generate", gen).status());
            PrometheusText after = scrape(a.http());
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_lookups_total", "tier", "redis");
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_hits_total", "tier", "redis");
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_lookups_total", "tier", "local");
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_hits_total", "tier", "local");
            MetricsTest.assertDelta(1, before, after, "engram_state_store_operations_seconds_count", "store", "redis",
                    "operation", "get", "outcome", "ok");

            // on the other replica: found in Redis, not yet in its local cache
            before = scrape(b.http());
            assertEquals(200, b.http().post("/v1/generate", gen).status());
            after = scrape(b.http());
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_hits_total", "tier", "redis");
            MetricsTest.assertDelta(1, before, after, "engram_state_cache_lookups_total", "tier", "local");
            MetricsTest.assertDelta(0, before, after, "engram_state_cache_hits_total", "tier", "local");
            assertTrue(after.has("engram_state_bytes_stored"));
        }
    }

    static PrometheusText scrape(Http http) {
        Http.Response r = http.get("/actuator/prometheus");
        assertEquals(200, r.status());
        return PrometheusText.parse(r.body());
    }
}
