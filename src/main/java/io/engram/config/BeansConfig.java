package io.engram.config;

import io.engram.model.ModelRegistry;
import io.engram.state.InMemoryStateStore;
import io.engram.state.RedisStateStore;
import io.engram.state.StateStore;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.resource.Delay;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.data.redis.autoconfigure.ClientResourcesBuilderCustomizer;
import org.springframework.boot.data.redis.autoconfigure.LettuceClientOptionsBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.connection.RedisConnectionFactory;

/** Wiring that is not a component scan: the clock and the state store chosen by {@code engram.store}. */
@Configuration(proxyBeanMethods = false)
public class BeansConfig {

    @Bean
    Clock clock() {
        return Clock.systemUTC();
    }

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
}
