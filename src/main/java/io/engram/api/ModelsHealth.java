package io.engram.api;

import io.engram.model.ModelRegistry;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/** Readiness: UP once every model under engram.models-dir is loaded (the registry loads them before serving). */
@Component("models")
public class ModelsHealth implements HealthIndicator {

    private final ModelRegistry models;

    public ModelsHealth(ModelRegistry models) {
        this.models = models;
    }

    @Override
    public Health health() {
        if (models.all().isEmpty()) return Health.down().withDetail("reason", "no model loaded").build();
        return Health.up().withDetail("models", models.all().stream().map(m -> m.id()).toList())
                .withDetail("default", models.defaultId()).build();
    }
}
