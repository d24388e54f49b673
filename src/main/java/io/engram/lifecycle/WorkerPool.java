package io.engram.lifecycle;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A pool of daemon worker threads owned by the Spring context: declared as a bean, so it is shut down with the
 * context (its {@link #close()}: work already handed to it finishes, for at most {@link #GRACE_SECONDS}, then it
 * is interrupted). It is deliberately not an {@link Executor} bean, which would replace Spring Boot's own task
 * executor; {@link #executor()} hands it to {@code CompletableFuture}s.
 */
public final class WorkerPool implements AutoCloseable {

    static final long GRACE_SECONDS = 5;

    private final String name;
    private final ExecutorService threads;

    public WorkerPool(String name) {
        this.name = name;
        AtomicInteger n = new AtomicInteger();
        this.threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public void execute(Runnable task) {
        threads.execute(task);
    }

    public Executor executor() {
        return threads::execute;
    }

    @Override
    public void close() {
        threads.shutdown();
        try {
            if (!threads.awaitTermination(GRACE_SECONDS, TimeUnit.SECONDS)) threads.shutdownNow();
        } catch (InterruptedException e) {
            threads.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "WorkerPool[" + name + "]";
    }
}
