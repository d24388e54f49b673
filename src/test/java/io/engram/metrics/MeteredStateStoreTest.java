package io.engram.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.state.MeteredStateStore;
import io.engram.state.StateMeta;
import io.engram.state.StateStore;
import io.engram.state.StoredState;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MeteredStateStoreTest {

    /** A default method the decorator did not override would bypass the real store: every one must be declared. */
    @Test
    void overridesEveryStoreMethod() throws Exception {
        for (Method m : StateStore.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) continue;
            Method own = MeteredStateStore.class.getMethod(m.getName(), m.getParameterTypes());
            assertEquals(MeteredStateStore.class, own.getDeclaringClass(), "MeteredStateStore must delegate " + m);
        }
    }

    @Test
    void failingCallsAreCountedAsErrorsOfTheirOperationAndRethrown() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        EngramMetrics metrics = new EngramMetrics(registry);
        StateStore broken = new StateStore() {
            public Optional<StoredState> get(String id) { throw new IllegalStateException("redis down"); }
            public Optional<StateMeta> meta(String id) { return Optional.empty(); }
            public void put(StoredState state) { throw new IllegalStateException("redis down"); }
            public boolean delete(String id) { return false; }
            public String kind() { return "redis"; }
        };
        MeteredStateStore s = new MeteredStateStore(broken, () -> metrics);
        assertThrows(IllegalStateException.class, () -> s.get("x"));
        assertThrows(IllegalStateException.class, () -> s.put(null));
        assertTrue(s.meta("x").isEmpty());
        assertEquals(1, registry.get("engram.state.store.operations").tags("store", "redis", "operation", "get", "outcome", "error").timer().count());
        assertEquals(1, registry.get("engram.state.store.operations").tags("operation", "put", "outcome", "error").timer().count());
        assertEquals(1, registry.get("engram.state.store.operations").tags("operation", "meta", "outcome", "miss").timer().count());
        // a failed load is neither a hit nor a counted lookup: the error metric tells it
        assertTrue(registry.find("engram.state.cache.lookups").counters().isEmpty());
        assertEquals("redis", MeteredStateStore.tierOf("redis"));
        assertEquals("local", MeteredStateStore.tierOf("memory"));
    }

    @Test
    void residentMemoryIsReadFromProcStatus() throws Exception {
        Path status = Files.createTempFile("status", "");
        Files.writeString(status, "Name:\tjava\nVmPeak:\t 9999 kB\nVmRSS:\t  123456 kB\nThreads:\t42\n");
        assertEquals(123456 * 1024.0, new ProcessMemoryMetrics(status).residentBytes());
        assertTrue(Double.isNaN(new ProcessMemoryMetrics(status.resolveSibling("missing-" + status.getFileName())).residentBytes()));
        if (Files.exists(Path.of("/proc/self/status"))) assertTrue(new ProcessMemoryMetrics().residentBytes() > 0);
    }

    @Test
    void outcomesOfFailures() {
        assertEquals("cancelled", EngramMetrics.outcomeOf(new java.util.concurrent.CancellationException()));
        assertEquals("timeout", EngramMetrics.outcomeOf(new java.util.concurrent.CompletionException(
                new io.engram.error.EngramException(io.engram.error.ProblemType.TIMEOUT, "slow"))));
        assertEquals("error", EngramMetrics.outcomeOf(new RuntimeException()));
    }
}
