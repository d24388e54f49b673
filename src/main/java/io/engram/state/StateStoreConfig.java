package io.engram.state;

import io.engram.config.EngramProperties;
import io.engram.metrics.EngramMetrics;
import io.engram.model.ModelRegistry;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.resource.Delay;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.data.redis.autoconfigure.ClientResourcesBuilderCustomizer;
import org.springframework.boot.data.redis.autoconfigure.LettuceClientOptionsBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.connection.RedisConnectionFactory;

/**
 * The state store chosen by {@code engram.store}, its Redis client settings, and its metrics: whichever store it
 * is, it is wrapped in a {@link MeteredStateStore}, and its bytes and cache tiers are exported as gauges.
 */
@Configuration(proxyBeanMethods = false)
public class StateStoreConfig {

    /**
     * {@code memory}: the embedded LRU store. {@code redis}: {@link RedisStateStore} on Spring's Redis connection
     * ({@code spring.data.redis.*}). The connection is made lazily, so the server starts while Redis is down and
     * readiness reports the store DOWN until it answers.
     */
    @Bean
    StateStore stateStore(EngramProperties props, Clock clock, ModelRegistry models,
                          ObjectProvider<RedisConnectionFactory> redis) {
        if (props.store().equals("redis")) {
            RedisConnectionFactory factory = redis.getIfAvailable();
            if (factory == null) throw new IllegalStateException("engram.store=redis but no Redis connection factory is configured");
            EngramProperties.Redis r = props.redis();
            return new RedisStateStore(factory, id -> models.find(id == null || id.isBlank() ? "\0" : id), r.keyPrefix(),
                    r.cacheMaxBytes(), r.retryAfterSeconds(), clock);
        }
        return new InMemoryStateStore(props.memory().maxBytes(), clock);
    }

    /**
     * While the connection is down, fail commands at once (503 + Retry-After) instead of queueing them until the
     * command timeout, and keep reconnecting in the background.
     */
    @Bean
    LettuceClientOptionsBuilderCustomizer engramLettuceOptions() {
        return b -> b.autoReconnect(true).disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS);
    }

    /** Reconnect attempts back off from 50 ms to at most 1 s (Lettuce's default grows to 30 s). */
    @Bean
    ClientResourcesBuilderCustomizer engramLettuceReconnect() {
        return b -> b.reconnectDelay(Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS));
    }

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
