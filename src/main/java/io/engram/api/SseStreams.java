package io.engram.api;

import io.engram.config.EngramProperties;
import io.engram.lifecycle.WorkerPool;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.stereotype.Component;

/**
 * Opens the Server-Sent Events responses of {@code /v1/generate} and the OpenAI endpoints: one writer thread per
 * open stream, from a pool that is shut down with the application, and one buffer bound for every stream.
 */
@Component
public class SseStreams {

    /** Events buffered for a client that reads slowly, before it is dropped. */
    static final int BUFFER_EVENTS = 4096;
    /** A stream outlives the request timeout by this much, so that the timeout's own error event can be sent. */
    private static final long GRACE_MS = 5_000;

    private final WorkerPool writers;
    private final long timeoutMs;

    public SseStreams(@Qualifier(Pools.SSE_WRITERS) WorkerPool writers, EngramProperties props) {
        this.writers = writers;
        this.timeoutMs = props.scheduler().requestTimeout().toMillis() + GRACE_MS;
    }

    SseStream open() {
        return new SseStream(writers, timeoutMs, BUFFER_EVENTS);
    }

    /** The writers' pool, as a bean of the context (closed with it). */
    @Configuration(proxyBeanMethods = false)
    static class Pools {
        static final String SSE_WRITERS = "sseWriters";

        @Bean(name = SSE_WRITERS)
        WorkerPool sseWriters() {
            return new WorkerPool("engram-sse-writer");
        }
    }
}
