package io.engram.api;

import io.engram.lifecycle.WorkerPool;
import java.io.IOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.servlet.mvc.method.annotation.ResponseBodyEmitter;

/**
 * One Server-Sent Events response. The device thread only {@link #offer}s events, which never blocks it; a writer
 * thread sends them. A client that stops reading fills the bounded queue and is dropped (backpressure), and a
 * client that disconnects is noticed at the next write: either way {@link #gone()} turns true and the sequence
 * leaves the batch before its next step. The writer starts only with {@link #start()}, after the request was
 * admitted to the queue. Streams are opened by {@link SseStreams}, which owns the writer threads.
 */
final class SseStream {

    private static final String END = "\u0000end";

    private final WorkerPool writers;
    private final ResponseBodyEmitter emitter;
    private final BlockingQueue<String> queue;
    private final AtomicBoolean gone = new AtomicBoolean();

    SseStream(WorkerPool writers, long timeoutMs, int capacity) {
        this.writers = writers;
        this.emitter = new ResponseBodyEmitter(timeoutMs);
        this.queue = new ArrayBlockingQueue<>(capacity);
        emitter.onCompletion(() -> gone.set(true));
        emitter.onTimeout(() -> gone.set(true));
        emitter.onError(e -> gone.set(true));
    }

    /**
     * Starts the writer thread. Called only once the sequence is queued: a stream that {@code submit} refuses
     * (429/503) never starts one, so a server under overload does not leave a parked writer per refused stream.
     */
    void start() {
        writers.execute(this::drain);
    }

    ResponseEntity<ResponseBodyEmitter> response() {
        return ResponseEntity.ok().contentType(MediaType.TEXT_EVENT_STREAM)
                .header("Cache-Control", "no-cache").header("X-Accel-Buffering", "no").body(emitter);
    }

    /** Queues raw SSE text ({@code event: …\ndata: …\n\n}); drops the client if it is not keeping up. */
    void offer(String sse) {
        if (gone.get()) return;
        if (!queue.offer(sse)) gone.set(true);
    }

    /** Sends what is queued, then ends the response. */
    void close() {
        if (!queue.offer(END)) gone.set(true);
    }

    boolean gone() {
        return gone.get();
    }

    private void drain() {
        try {
            while (true) {
                String s = queue.take();
                if (s == END) {
                    emitter.complete();
                    return;
                }
                if (gone.get()) {
                    emitter.complete();
                    return;
                }
                emitter.send(s, MediaType.TEXT_PLAIN);
            }
        } catch (IOException | IllegalStateException e) {
            gone.set(true);
            try {
                emitter.completeWithError(e);
            } catch (IllegalStateException over) {
                // the container already ended the response (the client went away and its error callback ran):
                // nothing is left to complete, and an exception here would kill this pooled writer thread
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
