package io.engram.config;

import io.engram.state.InMemoryStateStore;
import io.engram.state.StateStore;
import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Wiring that is not a component scan: the clock and the state store chosen by {@code engram.store}. */
@Configuration(proxyBeanMethods = false)
public class BeansConfig {

    @Bean
    Clock clock() {
        return Clock.systemUTC();
    }

    @Bean
    StateStore stateStore(EngramProperties props, Clock clock) {
        if (props.store().equals("redis")) {
            throw new IllegalStateException("engram.store=redis is not available in this build yet; use engram.store=memory");
        }
        return new InMemoryStateStore(props.memory().maxBytes(), clock);
    }
}
