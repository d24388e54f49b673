package io.engram.metrics;

import io.engram.config.EngramProperties;
import io.engram.model.LoadedModel;
import io.engram.model.ModelRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Wires the metrics that need no call in the code they measure: the identity of the loaded models, the queue
 * bound and the process RSS (the state store's are wired beside it, in {@code io.engram.state.StateStoreConfig}).
 * Meter binders are bound to the registry by Spring Boot; JVM and process metrics ({@code jvm_*},
 * {@code process_*}) come from its auto-configuration.
 */
@Configuration(proxyBeanMethods = false)
public class MetricsConfig {

    /** Computed in float32 whatever the checkpoint's dtype (as {@code /v1/models} reports in {@code dtype}). */
    static final String COMPUTE_DTYPE = "float32";

    @Bean
    MeterBinder engramModelInfo(ModelRegistry models, EngramMetrics metrics) {
        return registry -> {
            for (LoadedModel m : models.all()) metrics.modelLoaded(m.id(), m.architecture(), COMPUTE_DTYPE, m.device());
        };
    }

    @Bean
    MeterBinder engramQueueCapacity(EngramProperties props, EngramMetrics metrics) {
        return registry -> metrics.queueCapacity(props.scheduler().maxQueued());
    }

    @Bean
    MeterBinder processResidentMemory() {
        return new ProcessMemoryMetrics();
    }
}
