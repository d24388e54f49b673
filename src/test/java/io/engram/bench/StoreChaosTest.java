package io.engram.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.testsupport.OracleModelDir;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code bench-store --chaos}, short: two SIGKILLs of its own redis-server under streaming load, on the oracle's tiny
 * model. The benchmark's pass rule (no hung request, no corrupt or partial state served, no answer other than
 * 2xx/503 store-unavailable/404 unknown-state, no orphan key, service after the last restart) must hold, and the
 * outages must have been seen (some 503s), or the run proved nothing.
 */
class StoreChaosTest {

    @Test
    void redisKilledTwiceUnderStreamsServesNothingPartialAndNothingHangs() throws Exception {
        Path models = Files.createTempDirectory("engram-chaos-test");
        Path dir = OracleModelDir.create(models, "tiny");
        StoreChaos.Result r = StoreChaos.measure(new String[] {"--model", dir.toString(), "--kills", "2", "--up-ms", "2500",
                "--down-ms", "1500", "--clients", "3", "--docs", "4", "--doc-tokens", "24", "--timeout-s", "30"});
        assertTrue(r.ok(), r.toString());
        assertEquals(0, r.hung(), r.toString());
        assertEquals(0, r.corrupt(), r.toString());
        assertTrue(r.unavailable() + r.streamUnavailable() > 0, "the outages were not observed: " + r);
        assertTrue(r.served() > 0, r.toString());
        assertTrue(r.distinctContinuations() > 1, "every state continues alike: the corruption check could not fail " + r);
    }
}
