package io.engram.model.ops;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of threads for the CPU kernels. {@link #forRange} cuts {@code [0, n)} into blocks; the calling
 * thread and long-lived helper threads take blocks from a shared counter until none are left.
 *
 * <p>Why not a ForkJoinPool: a decode step makes about fifty parallel products of a few hundred microseconds
 * each. Waking pool workers and parking the caller costs tens of microseconds per product; here a helper that
 * has just finished spins briefly for the next job (then parks), and the caller works instead of waiting, so a
 * hand-off costs about a microsecond. Blocks are taken dynamically rather than split in equal halves so that a
 * thread descheduled by another process (the machine may be shared) delays the job by one block at most.
 *
 * <p>One team serves the process. A caller that finds it busy (another model's thread, or a nested call) runs
 * the blocks itself, so callers never wait for each other and never deadlock. If blocks fail, every block still
 * runs and the call then throws the last failure.
 */
public final class CpuTeam {

    /** Work on one block: the index range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeTask {
        void run(int from, int to);
    }

    /** Threads in the team, the caller included: {@code -Dengram.cpu.threads}, or every available core. */
    public static final int THREADS = Math.max(1, Integer.getInteger("engram.cpu.threads",
            Runtime.getRuntime().availableProcessors()));

    /** How long an idle thread spins before it parks (the gap between two products of one step is shorter). */
    private static final long SPIN_NANOS = 50_000;

    private static final AtomicBoolean BUSY = new AtomicBoolean();
    private static final Helper[] HELPERS = new Helper[THREADS - 1];
    private static volatile Job current;

    static {
        for (int i = 0; i < HELPERS.length; i++) {
            HELPERS[i] = new Helper(i + 1);
            HELPERS[i].start();
        }
    }

    private CpuTeam() {}

    /**
     * Runs {@code task} over {@code [0, n)} in blocks of {@code grain} indices (the last one shorter) and returns
     * when every block is done. Blocks run concurrently, in no particular order.
     */
    public static void forRange(int n, int grain, RangeTask task) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int blocks = (int) ((n + (long) g - 1) / g);
        if (blocks == 1) {
            task.run(0, n);
            return;
        }
        Job job = new Job(task, n, g, blocks, Thread.currentThread());
        if (HELPERS.length == 0 || !BUSY.compareAndSet(false, true)) {
            job.work();                                         // alone: the same blocks, one after the other
        } else {
            try {
                current = job;
                for (Helper h : HELPERS) h.wake();
                job.work();
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while (job.done.get() < blocks) {
                    if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                    else LockSupport.parkNanos(job, 100_000);
                }
                current = null;
            } finally {
                BUSY.set(false);
            }
        }
        Throwable t = job.failure;
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
    }

    private static final class Job {
        final RangeTask task;
        final int n, grain, blocks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeTask task, int n, int grain, int blocks, Thread caller) {
            this.task = task;
            this.n = n;
            this.grain = grain;
            this.blocks = blocks;
            this.caller = caller;
        }

        void work() {
            int b;
            while ((b = next.getAndIncrement()) < blocks) {
                try {
                    task.run(b * grain, (int) Math.min(n, (long) (b + 1) * grain));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (done.incrementAndGet() == blocks) LockSupport.unpark(caller);
                }
            }
        }
    }

    private static final class Helper extends Thread {
        private volatile boolean parked;
        private Job last;

        Helper(int index) {
            super("engram-cpu-" + index);
            setDaemon(true);
        }

        void wake() {
            if (parked) LockSupport.unpark(this);
        }

        @Override
        public void run() {
            while (true) {
                Job job = awaitJob();
                last = job;
                job.work();
            }
        }

        private Job awaitJob() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (true) {
                Job j = current;
                if (j != null && j != last) return j;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                j = current;
                if (j == null || j == last) LockSupport.park(this);
                parked = false;
                spinUntil = System.nanoTime() + SPIN_NANOS;
            }
        }
    }
}
