package io.engram.inference;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * The one owner of the device: every model call runs on its single platform thread, in arrival order (a DJL
 * model is not thread-safe, and native calls pin virtual threads). The queue is bounded: past
 * {@code engram.scheduler.max-queued} waiting requests, new ones are refused with 429 and Retry-After.
 */
@Component
public class DeviceScheduler implements DisposableBean {

    private final ThreadPoolExecutor executor;
    private final AtomicInteger running = new AtomicInteger();

    public DeviceScheduler(EngramProperties props, EngramMetrics metrics) {
        AtomicInteger n = new AtomicInteger();
        executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(props.scheduler().maxQueued()),
                r -> {
                    Thread t = new Thread(r, "engram-device-" + n.getAndIncrement());
                    t.setDaemon(true);
                    return t;
                });
        metrics.schedulerGauges(this::running, this::waiting);
    }

    /** Queues {@code work} for the device thread. */
    public <T> CompletableFuture<T> submit(Callable<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                if (f.isCancelled()) return;
                running.incrementAndGet();
                try {
                    f.complete(work.call());
                } catch (Throwable e) {
                    f.completeExceptionally(e);
                } finally {
                    running.decrementAndGet();
                }
            });
        } catch (RejectedExecutionException e) {
            throw new EngramException(ProblemType.OVERLOADED,
                    "the request queue is full (" + executor.getQueue().size() + " waiting); retry shortly", 1L);
        }
        return f;
    }

    /** Requests being executed now. */
    public int running() {
        return running.get();
    }

    /** Requests queued behind them. */
    public int waiting() {
        return executor.getQueue().size();
    }

    @Override
    public void destroy() {
        executor.shutdownNow();
    }
}
