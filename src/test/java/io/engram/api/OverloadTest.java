package io.engram.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.scheduler.DeviceScheduler;
import io.engram.testsupport.Http;
import io.engram.testsupport.OracleModelDir;
import io.engram.testsupport.TestApp;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Streams refused at the queue bound (429) leave nothing behind: no SSE writer thread is started for them.
 * Reproduces issue 14's report (30 concurrent streams against max-queued=1, max-running=1).
 */
class OverloadTest {

    static TestApp app;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("engram-overload-test");
        OracleModelDir.create(models, "tiny");
        app = TestApp.start(models, "engram.scheduler.max-queued=1", "engram.scheduler.max-running=1");
    }

    @AfterAll
    static void stop() {
        if (app != null) app.close();
    }

    @Test
    void refusedStreamsLeaveNoWriterThreads() throws Exception {
        Http http = app.http();
        int n = 30;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<HttpResponse<String>>> answers = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Object body = i % 2 == 0
                        ? Map.of("prompt_tokens", List.of(1, 2, 3), "max_tokens", 64, "stream", true, "seed", i)
                        : Map.of("prompt", List.of(1, 2, 3), "max_tokens", 64, "stream", true, "seed", i);
                String path = i % 2 == 0 ? "/v1/generate" : "/v1/completions";
                HttpRequest r = http.request(path).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(Http.JSON.writeValueAsString(body))).build();
                answers.add(pool.submit(() -> http.client().send(r, HttpResponse.BodyHandlers.ofString())));
            }
            int refused = 0;
            for (var f : answers) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 429) {
                    refused++;
                    assertTrue(r.headers().firstValue("Retry-After").isPresent(), "429 carries Retry-After");
                } else {
                    assertEquals(200, r.statusCode(), r.body());
                }
            }
            assertTrue(refused > 0, "some of " + n + " streams are refused at max-queued=1, max-running=1");
        } finally {
            pool.shutdown();
        }
        DeviceScheduler scheduler = app.bean(DeviceScheduler.class);
        waitUntil(() -> scheduler.running() == 0 && scheduler.waiting() == 0, "the scheduler is idle");
        waitUntil(() -> writersDraining() == 0, "no SSE writer is left waiting on a stream (found " + writersDraining() + ")");
    }

    /** Threads inside {@code SseStream.drain}: one per open stream; idle pooled threads are not counted. */
    static int writersDraining() {
        int n = 0;
        for (var e : Thread.getAllStackTraces().entrySet()) {
            for (StackTraceElement f : e.getValue()) {
                if (f.getClassName().equals(SseStream.class.getName()) && f.getMethodName().equals("drain")) {
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    private static void waitUntil(java.util.function.BooleanSupplier c, String what) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out waiting: " + what);
            Thread.sleep(20);
        }
    }
}
