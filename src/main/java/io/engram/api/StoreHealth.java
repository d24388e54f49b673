package io.engram.api;

import io.engram.error.EngramException;
import io.engram.state.StateStore;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * Readiness of the state store ({@code stateStore} in the readiness group): UP when it answers a PING (always, for
 * the in-memory store). While Redis is unreachable the server keeps running and this reports DOWN, so a load
 * balancer stops sending traffic until Redis is back; no restart is needed.
 */
@Component("stateStoreHealthIndicator") // contributor name: stateStore
public class StoreHealth implements HealthIndicator {

    private final StateStore store;

    public StoreHealth(StateStore store) {
        this.store = store;
    }

    @Override
    public Health health() {
        try {
            long t0 = System.nanoTime();
            store.ping();
            return Health.up().withDetail("kind", store.kind())
                    .withDetail("ping_ms", Math.round((System.nanoTime() - t0) / 1e4) / 100.0)
                    .withDetails(store.details()).build();
        } catch (EngramException e) {
            return Health.down().withDetail("kind", store.kind()).withDetail("reason", e.getMessage()).build();
        }
    }
}
