package io.engram.testsupport;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.Cursor;
import org.springframework.data.redis.core.ScanOptions;

/**
 * The Redis that tests run against. Never a silent skip:
 * <ol>
 *   <li>{@code ENGRAM_TEST_REDIS_URL} when set ({@code .ci/run} sets it to {@code redis://127.0.0.1:6379}, starting
 *       {@code redis-server} when none answers), since an explicit setting wins;</li>
 *   <li>otherwise a Testcontainers {@code redis:7} where a Docker engine is available;</li>
 *   <li>otherwise the test fails, saying how to provide one.</li>
 * </ol>
 * Tests that stop and start Redis use a private {@code redis-server} process on a free port ({@link Server}).
 * Each test class writes under its own key prefix, so runs can share a Redis.
 */
public final class TestRedis {

    public static final String ENV = "ENGRAM_TEST_REDIS_URL";
    private static String url;
    private static Object container;

    private TestRedis() {}

    public static synchronized String url() {
        if (url != null) return url;
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            url = env.trim();
            requireAnswers(url);
            return url;
        }
        if (dockerAvailable()) {
            var c = new org.testcontainers.containers.GenericContainer<>(
                    org.testcontainers.utility.DockerImageName.parse("redis:7")).withExposedPorts(6379);
            c.start();
            container = c;
            url = "redis://" + c.getHost() + ":" + c.getMappedPort(6379);
            return url;
        }
        throw new IllegalStateException("These tests need a real Redis and found none: set " + ENV
                + "=redis://127.0.0.1:6379 (start one with `redis-server --port 6379 --save \"\"`), or run a Docker "
                + "engine so Testcontainers can start redis:7. .ci/run does the former.");
    }

    private static boolean dockerAvailable() {
        try {
            return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable t) {
            return false;
        }
    }

    private static void requireAnswers(String url) {
        var uri = io.lettuce.core.RedisURI.create(url);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 2000);
        } catch (IOException e) {
            throw new IllegalStateException(ENV + "=" + url + " but nothing answers there: start redis-server (" + e + ")");
        }
    }

    /** A fresh key prefix for one test class. */
    public static String prefix() {
        return "engram-test-" + UUID.randomUUID().toString().substring(0, 8) + ":";
    }

    /** A Lettuce connection factory configured like the server's (fail fast while down, reconnect within 1 s). */
    public static LettuceConnectionFactory connect(String url) {
        LettuceClientConfiguration.LettuceClientConfigurationBuilder b = LettuceClientConfiguration.builder()
                .commandTimeout(Duration.ofSeconds(2))
                .clientOptions(ClientOptions.builder().autoReconnect(true)
                        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                        .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(2)).build()).build())
                .clientResources(DefaultClientResources.builder()
                        .reconnectDelay(Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
                        .build());
        var uri = io.lettuce.core.RedisURI.create(url);
        if (uri.isSsl()) b.useSsl();
        LettuceConnectionFactory f = new LettuceConnectionFactory(LettuceConnectionFactory.createRedisConfiguration(url), b.build());
        f.afterPropertiesSet();
        f.start();
        return f;
    }

    /** Deletes every key under {@code prefix}. */
    public static void clean(LettuceConnectionFactory f, String prefix) {
        try (RedisConnection c = f.getConnection();
             Cursor<byte[]> keys = c.keyCommands().scan(ScanOptions.scanOptions().match(prefix + "*").count(1000).build())) {
            List<byte[]> batch = new ArrayList<>();
            while (keys.hasNext()) batch.add(keys.next());
            if (!batch.isEmpty()) c.keyCommands().del(batch.toArray(byte[][]::new));
        }
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A private, non-persistent {@code redis-server} on 127.0.0.1, which a test may stop and start again. */
    public static final class Server implements AutoCloseable {
        private final int port;
        private Process process;
        private Path log;

        public Server(int port) {
            this.port = port;
        }

        public int port() {
            return port;
        }

        public String url() {
            return "redis://127.0.0.1:" + port;
        }

        public synchronized Server start() {
            if (process != null && process.isAlive()) return this;
            try {
                log = Files.createTempFile("engram-redis-" + port, ".log");
                process = new ProcessBuilder("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--daemonize", "no")
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                throw new IllegalStateException("this test starts and stops its own redis-server, which is not on the PATH"
                        + " (apt-get install redis-server): " + e.getMessage(), e);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) throw new IllegalStateException("redis-server on port " + port + " exited: " + logText());
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return this;
                } catch (IOException e) {
                    sleep(20);
                }
            }
            throw new IllegalStateException("redis-server on port " + port + " did not answer within 10 s: " + logText());
        }

        /** Kills the server (SIGKILL: like a crash, nothing is flushed) and waits until the port is closed. */
        public synchronized void stop() {
            if (process == null) return;
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process = null;
        }

        @Override
        public void close() {
            stop();
        }

        private String logText() {
            try {
                return Files.readString(log, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(no log)";
            }
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
