package io.engram.metrics;

import io.engram.config.EngramProperties;
import io.engram.model.LoadedModel;
import io.engram.model.ModelRegistry;
import io.engram.state.StateStore;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.function.Supplier;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Wires the metrics that need no call in the code they measure: the state store decorator, the identity of the
 * loaded models, the bytes held by the store, the queue bound and the process RSS. Meter binders are bound to the
 * registry by Spring Boot; JVM and process metrics ({@code jvm_*}, {@code process_*}) come from its
 * auto-configuration.
 */
@Configuration(proxyBeanMethods = false)
public class MetricsConfig {

    /** Computed in float32 whatever the checkpoint's dtype (as {@code /v1/models} reports in {@code dtype}). */
    static final String COMPUTE_DTYPE = "float32";

    /** Wraps the {@link StateStore} bean, whichever it is, in a {@link MeteredStateStore}. */
    @Bean
    static BeanPostProcessor meteredStateStore(ObjectProvider<EngramMetrics> metrics) {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String name) {
                if (bean instanceof StateStore s && !(bean instanceof MeteredStateStore)) {
                    return new MeteredStateStore(s, memoize(metrics::getObject));
                }
                return bean;
            }
        };
    }

    @Bean
    MeterBinder engramModelInfo(ModelRegistry models, EngramMetrics metrics) {
        return registry -> {
            for (LoadedModel m : models.all()) metrics.modelLoaded(m.id(), m.architecture(), COMPUTE_DTYPE, m.device());
        };
    }

    /**
     * The store's bytes, and its cache tiers: the tier of the store itself (counted by {@link MeteredStateStore}),
     * plus, for a store with an in-process read-through cache (Redis), the {@code local} tier read from the hit
     * and miss counts it reports in {@link StateStore#details()} ({@code cache_hits}, {@code cache_misses}).
     */
    @Bean
    MeterBinder engramStateStore(StateStore store, EngramMetrics metrics) {
        return registry -> {
            metrics.storeBytes(store.kind(), () -> {
                long b = store.bytesStored();
                return b < 0 ? Double.NaN : b;
            });
            String tier = MeteredStateStore.tierOf(store.kind());
            metrics.cacheTier(tier);
            if (!tier.equals("local") && store.details().containsKey("cache_hits")) {
                metrics.cacheTierCounts("local", store,
                        s -> number(s.details(), "cache_hits") + number(s.details(), "cache_misses"),
                        s -> number(s.details(), "cache_hits"));
            }
        };
    }

    private static double number(java.util.Map<String, Object> details, String key) {
        return details.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    @Bean
    MeterBinder engramQueueCapacity(EngramProperties props, EngramMetrics metrics) {
        return registry -> metrics.queueCapacity(props.scheduler().maxQueued());
    }

    @Bean
    MeterBinder processResidentMemory() {
        return new ProcessMemoryMetrics();
    }

    static <T> Supplier<T> memoize(Supplier<T> s) {
        return new Supplier<>() {
            private volatile T value;

            @Override
            public T get() {
                T v = value;
                if (v == null) value = v = s.get();
                return v;
            }
        };
    }
}
