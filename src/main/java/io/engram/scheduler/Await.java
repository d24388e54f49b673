package io.engram.scheduler;

import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Waits for device work with the request timeout, unwrapping failures. */
public final class Await {

    private Await() {}

    public static <T> T get(CompletableFuture<T> f, Duration timeout) {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new EngramException(ProblemType.TIMEOUT, "the request did not finish within "
                    + timeout.toSeconds() + " s (engram.scheduler.request-timeout); retry later", 5L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EngramException(ProblemType.TIMEOUT, "interrupted while waiting for the model", 1L);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }
}
