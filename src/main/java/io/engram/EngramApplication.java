package io.engram;

import java.time.Clock;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.context.annotation.Bean;

/**
 * The HTTP service: Spring's component scan of {@code io.engram}. It is started by {@link io.engram.cli.Main}
 * (the jar's start class, which also runs the benchmark and training commands) and by the tests and benchmarks
 * that serve it in-process.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class EngramApplication {

    /** The clock that dates states (created, expires): a bean so tests can fix it. */
    @Bean
    Clock clock() {
        return Clock.systemUTC();
    }
}
