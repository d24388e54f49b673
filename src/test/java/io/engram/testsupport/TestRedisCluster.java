package io.engram.testsupport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real Redis Cluster of {@code masters} {@code redis-server} processes on free loopback ports, no replicas, no
 * persistence, made with {@code redis-cli --cluster create}; for tests only. A master can be killed (SIGKILL) and
 * started again on the same port with the same {@code nodes.conf}, so it rejoins the cluster owning the same slots
 * (empty: nothing was persisted). Everything runs in a temporary folder and is killed and deleted by {@link #close}.
 * Needs {@code redis-server} and {@code redis-cli} (Debian: redis-server, which pulls in redis-tools) on the PATH,
 * and fails, never skips, without them.
 */
public final class TestRedisCluster implements AutoCloseable {

    private final Path dir;
    private final int[] ports;
    private final int[] busPorts;
    private final Process[] processes;

    private TestRedisCluster(Path dir, int masters) {
        this.dir = dir;
        this.ports = new int[masters];
        this.busPorts = new int[masters];
        this.processes = new Process[masters];
        for (int i = 0; i < masters; i++) {
            ports[i] = TestRedis.freePort();
            busPorts[i] = TestRedis.freePort(); // explicit: port + 10000 may be past 65535 for an ephemeral port
        }
    }

    /** Starts the servers, creates the cluster and waits until every node reports {@code cluster_state:ok}. */
    public static TestRedisCluster start(int masters) {
        TestRedisCluster c;
        try {
            c = new TestRedisCluster(Files.createTempDirectory("engram-redis-cluster"), masters);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        try {
            for (int i = 0; i < masters; i++) c.startNode(i);
            List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
            for (int p : c.ports) create.add("127.0.0.1:" + p);
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            String out = run(create);
            if (!out.contains("All 16384 slots covered")) throw new IllegalStateException("redis-cli --cluster create: " + out);
            c.awaitOk();
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** {@code host:port,…}: the value of {@code spring.data.redis.cluster.nodes}. */
    public String nodes() {
        return Arrays.stream(ports).mapToObj(p -> "127.0.0.1:" + p).collect(Collectors.joining(","));
    }

    public int port(int i) {
        return ports[i];
    }

    public int size() {
        return ports.length;
    }

    /** The index of the master serving {@code key}'s hash slot. */
    public int nodeOf(String key) {
        long slot = Long.parseLong(cli(0, "CLUSTER", "KEYSLOT", key).trim());
        for (int i = 0; i < ports.length; i++) {
            if (!alive(i)) continue;
            for (String line : cli(i, "CLUSTER", "NODES").split("\n")) {
                String[] f = line.trim().split(" ");
                if (f.length < 9 || !f[2].contains("myself") || !f[2].contains("master")) continue;
                for (int k = 8; k < f.length; k++) {
                    String[] r = f[k].split("-");
                    if (r[0].startsWith("[")) continue; // a slot being migrated
                    long lo = Long.parseLong(r[0]), hi = r.length > 1 ? Long.parseLong(r[1]) : lo;
                    if (slot >= lo && slot <= hi) return i;
                }
            }
        }
        throw new IllegalStateException("no live master serves slot " + slot + " of " + key);
    }

    /** The keys matching {@code pattern} held by master {@code i} (SCAN on that node alone). */
    public List<String> keys(int i, String pattern) {
        String out = run(List.of("redis-cli", "-p", String.valueOf(ports[i]), "--scan", "--pattern", pattern));
        return out.isBlank() ? List.of() : Arrays.stream(out.split("\n")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    /** A command on node {@code i} (no redirection: the node's own answer, errors included). */
    public String cli(int i, String... command) {
        List<String> cmd = new ArrayList<>(List.of("redis-cli", "-p", String.valueOf(ports[i])));
        cmd.addAll(List.of(command));
        return run(cmd);
    }

    /** SIGKILL master {@code i}, like a crash. */
    public synchronized void kill(int i) {
        Process p = processes[i];
        if (p == null) return;
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        processes[i] = null;
    }

    /** Starts master {@code i} again with its nodes.conf (same id, same slots, no data) and waits for the cluster. */
    public synchronized void restart(int i) {
        startNode(i);
        awaitOk();
    }

    public boolean alive(int i) {
        return processes[i] != null && processes[i].isAlive();
    }

    /** Waits (up to 30 s) until every live node says {@code cluster_state:ok}. */
    public void awaitOk() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String last = "";
        while (System.nanoTime() < deadline) {
            boolean ok = true;
            for (int i = 0; i < ports.length && ok; i++) {
                if (!alive(i)) continue;
                last = cli(i, "CLUSTER", "INFO");
                ok = last.contains("cluster_state:ok");
            }
            if (ok) return;
            TestRedis.sleep(100);
        }
        throw new IllegalStateException("the cluster did not reach cluster_state:ok within 30 s: " + last);
    }

    private void startNode(int i) {
        if (alive(i)) return;
        int port = ports[i];
        Path log = dir.resolve("redis-" + port + ".log");
        try {
            processes[i] = new ProcessBuilder("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-port", String.valueOf(busPorts[i]),
                    "--cluster-config-file", "nodes-" + port + ".conf", "--cluster-node-timeout", "1000",
                    "--dir", dir.toString(), "--save", "", "--appendonly", "no", "--daemonize", "no")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("this test starts its own Redis Cluster and needs redis-server on the PATH "
                    + "(apt-get install redis-server): " + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (!processes[i].isAlive()) throw new IllegalStateException("redis-server on port " + port + " exited: " + read(log));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                TestRedis.sleep(20);
            }
        }
        throw new IllegalStateException("redis-server on port " + port + " did not answer within 10 s: " + read(log));
    }

    private static String run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish within 30 s");
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("this test needs redis-cli on the PATH (apt-get install redis-tools): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < processes.length; i++) kill(i);
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder
        }
    }
}
