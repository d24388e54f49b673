package io.engram.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.EngramApplication;
import io.engram.state.StateMeta;
import io.engram.state.StateStore;
import io.engram.state.StoredState;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * SIGTERM semantics, driven by closing the context the way the JVM's shutdown hook does: readiness goes DOWN while
 * the listener is still open, new API requests get 503, and a stream already running finishes with all its tokens.
 */
class GracefulShutdownTest {

    /** Holds the next state load until released: keeps one request in flight across the shutdown. */
    static final class Gate {
        static volatile boolean armed;
        static final CountDownLatch entered = new CountDownLatch(1);
        static final CountDownLatch release = new CountDownLatch(1);
    }

    @Configuration(proxyBeanMethods = false)
    static class GateConfig {
        @Bean
        static BeanPostProcessor gatedStore() {
            return new BeanPostProcessor() {
                @Override
                public Object postProcessAfterInitialization(Object bean, String name) {
                    if (!(bean instanceof StateStore s)) return bean;
                    return new StateStore() {
                        public Optional<StoredState> get(String id) {
                            if (Gate.armed) {
                                Gate.entered.countDown();
                                try {
                                    Gate.release.await(30, TimeUnit.SECONDS);
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                            }
                            return s.get(id);
                        }
                        public Optional<StateMeta> meta(String id) { return s.meta(id); }
                        public void put(StoredState state) { s.put(state); }
                        public boolean delete(String id) { return s.delete(id); }
                        public String kind() { return s.kind(); }
                    };
                }
            };
        }
    }

    @Test
    void runningStreamsFinishWhileNewRequestsAndReadinessSayShuttingDown() throws Exception {
        Path models = Files.createTempDirectory("engram-shutdown-test");
        OracleModelDir.create(models, "tiny");
        SpringApplication app = new SpringApplication(EngramApplication.class, GateConfig.class);
        ConfigurableApplicationContext ctx = app.run("--server.port=0", "--engram.models-dir=" + models,
                "--engram.shutdown.drain-delay=4s", "--spring.lifecycle.timeout-per-shutdown-phase=30s");
        int port = Integer.parseInt(ctx.getEnvironment().getProperty("local.server.port"));
        Http http = new Http(port);
        assertEquals(200, http.get("/actuator/health/readiness").status());
        String id = http.post("/v1/states", Map.of("tokens", new int[] {1, 2, 3, 4})).json().get("id").asText();

        // a stream that is in flight when shutdown begins
        Gate.armed = true;
        HttpRequest streamReq = HttpRequest.newBuilder(http.uri("/v1/generate")).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Http.JSON.writeValueAsString(Map.of(
                        "states", List.of(Map.of("id", id)), "prompt", "Hi", "max_tokens", 12, "temperature", 0,
                        "stream", true)))).build();
        CompletableFuture<HttpResponse<String>> stream = http.client().sendAsync(streamReq, HttpResponse.BodyHandlers.ofString());
        assertTrue(Gate.entered.await(20, TimeUnit.SECONDS), "the stream request never reached the store");
        Gate.armed = false;

        long closeStarted = System.nanoTime();
        CompletableFuture<Void> closed = CompletableFuture.runAsync(ctx::close);
        // readiness DOWN while the listener still answers
        Http fresh = new Http(port);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        int readiness = 0;
        while (System.nanoTime() < until && (readiness = fresh.get("/actuator/health/readiness").status()) == 200) {
            Thread.sleep(20);
        }
        assertEquals(503, readiness, "readiness must go DOWN before the listener closes");
        assertEquals(200, fresh.get("/actuator/health/liveness").status());
        Http.Response refused = fresh.post("/v1/generate", Map.of("prompt", "x", "max_tokens", 1));
        assertEquals(503, refused.status(), refused.body());
        assertEquals("1", refused.headers().firstValue("retry-after").orElse(""));
        assertTrue(refused.contentType().startsWith("application/problem+json"));
        assertEquals("https://engram.dev/problems/unavailable", refused.json().get("type").asText());

        // past the drain delay the web server's graceful shutdown has begun; the stream is still held, then runs
        // to its end with every token and its done event
        Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(closeStarted + TimeUnit.MILLISECONDS.toNanos(5_000) - System.nanoTime())));
        assertTrue(!closed.isDone(), "shutdown must wait for the running stream");
        Gate.release.countDown();
        HttpResponse<String> res = stream.get(30, TimeUnit.SECONDS);
        assertEquals(200, res.statusCode());
        long tokens = res.body().lines().filter(l -> l.equals("event: token")).count();
        assertTrue(res.body().contains("event: done"), res.body());
        assertTrue(tokens >= 12, res.body());
        closed.get(60, TimeUnit.SECONDS);
        assertTrue(!ctx.isActive());
        assertThrows(AssertionError.class, () -> new Http(port).get("/actuator/health/liveness"));
    }
}
