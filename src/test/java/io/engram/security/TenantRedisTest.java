package io.engram.security;

import static io.engram.testsupport.ProblemAsserts.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import io.engram.testsupport.TestRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Ownership lives in the shared store's metadata: with two replicas on one Redis, a tenant's state is its own on
 * every replica and nobody else's on any.
 */
class TenantRedisTest {

    static final String ALICE = "alice-key-0123456789abcdef", BOB = "bob-key-0123456789abcdef0123";

    @Test
    void aTenantsStateIsItsOwnOnEveryReplicaAndNobodyElses() throws Exception {
        Path models = Files.createTempDirectory("engram-tenant-redis");
        OracleModelDir.create(models, "tiny");
        String prefix = TestRedis.prefix();
        String[] cfg = TestApp.redis(TestRedis.url(), prefix, "engram.security.api-keys=alice:" + ALICE + ",bob:" + BOB);
        try (TestApp one = TestApp.start(models, cfg); TestApp two = TestApp.start(models, cfg)) {
            Http alice1 = one.http().withKey(ALICE), alice2 = two.http().withKey(ALICE), bob2 = two.http().withKey(BOB);
            Http.Response p = alice1.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3, 4, 5, 6}));
            assertEquals(201, p.status(), p.body());
            String id = p.json().get("id").asText();
            assertEquals(200, alice2.get("/v1/states/" + id).status());
            assertEquals(200, alice2.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)), "prompt_tokens",
                    new int[] {7}, "max_tokens", 2, "temperature", 0)).status());
            assertProblem(bob2.get("/v1/states/" + id), 404, "unknown-state");
            assertProblem(bob2.get("/v1/states/" + id + "/blob"), 404, "unknown-state");
            assertProblem(bob2.delete("/v1/states/" + id), 404, "unknown-state");
            assertProblem(bob2.post("/v1/generate", Map.of("states", List.of(Map.of("id", id)), "prompt", "x")), 404, "unknown-state");
            // bob priming the same document gets his own state; alice's is untouched
            Http.Response pb = bob2.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3, 4, 5, 6}));
            assertEquals(201, pb.status(), pb.body());
            assertEquals(200, alice1.get("/v1/states/" + id).status());
            assertEquals(204, alice2.delete("/v1/states/" + id).status());
            assertProblem(alice1.get("/v1/states/" + id), 404, "unknown-state");
        } finally {
            var c = TestRedis.connect(TestRedis.url());
            TestRedis.clean(c, prefix);
            c.destroy();
        }
    }
}
