package io.engram.model.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class CpuTeamTest {

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {0, 1, 7, 64, 1000, 65536}) {
            for (int grain : new int[] {1, 3, 32, 5000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(1, n));
                CpuTeam.forRange(n, grain, (from, to) -> {
                    for (int i = from; i < to; i++) hits.incrementAndGet(i);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + " grain=" + grain + " index " + i);
            }
        }
    }

    @Test
    void aFailingBlockFailsTheCallAfterTheOthersFinish() {
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicIntegerArray hits = new AtomicIntegerArray(100);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CpuTeam.forRange(100, 1, (from, to) -> {
            hits.incrementAndGet(from);
            if (from == 42) throw boom;
        }));
        assertSame(boom, e);
        for (int i = 0; i < 100; i++) assertEquals(1, hits.get(i), "block " + i + " ran");
        // and the team still works
        AtomicIntegerArray again = new AtomicIntegerArray(10);
        CpuTeam.forRange(10, 1, (from, to) -> again.incrementAndGet(from));
        for (int i = 0; i < 10; i++) assertEquals(1, again.get(i));
    }

    @Test
    void nestedAndConcurrentCallsRunInline() throws Exception {
        AtomicIntegerArray hits = new AtomicIntegerArray(64 * 64);
        CpuTeam.forRange(64, 1, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = i;
                CpuTeam.forRange(64, 1, (f, t) -> {
                    for (int j = f; j < t; j++) hits.incrementAndGet(row * 64 + j);
                });
            }
        });
        for (int i = 0; i < 64 * 64; i++) assertEquals(1, hits.get(i));

        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch start = new CountDownLatch(1);
            AtomicIntegerArray shared = new AtomicIntegerArray(4 * 10_000);
            Future<?>[] f = new Future<?>[4];
            for (int c = 0; c < 4; c++) {
                int caller = c;
                f[c] = pool.submit(() -> {
                    start.await();
                    for (int rep = 0; rep < 50; rep++) {
                        CpuTeam.forRange(10_000, 100, (from, to) -> {
                            for (int i = from; i < to; i++) shared.incrementAndGet(caller * 10_000 + i);
                        });
                    }
                    return null;
                });
            }
            start.countDown();
            for (Future<?> x : f) x.get();
            for (int i = 0; i < shared.length(); i++) assertEquals(50, shared.get(i));
        } finally {
            pool.shutdownNow();
        }
    }
}
