package io.engram.security;

import static io.engram.testsupport.ProblemAsserts.assertProblem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * With {@code management.server.port} set, the actuator lives on its own port, which is meant to be reachable only
 * inside the cluster (the Helm chart does not expose it through the Service's API port): Prometheus scrapes it
 * without a key, while the API port still needs one for everything but the probes.
 */
class ManagementPortTest {

    @Test
    void prometheusOnTheManagementPortNeedsNoKeyAndTheApiPortStillDoes() throws Exception {
        Path models = Files.createTempDirectory("engram-mgmt-test");
        OracleModelDir.create(models, "tiny");
        try (TestApp app = TestApp.start(models, "engram.security.api-keys=alice:alice-key-0123456789abcdef",
                "management.server.port=0")) {
            Http api = app.http();
            Http mgmt = new Http(Integer.parseInt(app.property("local.management.port")));
            Http.Response scrape = mgmt.get("/actuator/prometheus");
            assertEquals(200, scrape.status(), scrape.body());
            assertTrue(scrape.body().contains("jvm_"));
            assertEquals(200, mgmt.get("/actuator/health/readiness").status());
            assertProblem(api.get("/v1/models"), 401, "unauthorized");
            assertEquals(200, api.withKey("alice-key-0123456789abcdef").get("/v1/models").status());
            // the actuator is not on the API port at all
            assertEquals(404, api.withKey("alice-key-0123456789abcdef").get("/actuator/prometheus").status());
        }
    }
}
