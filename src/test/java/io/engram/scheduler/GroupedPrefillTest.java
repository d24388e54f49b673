package io.engram.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.config.EngramProperties;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.model.rwkv7.Rwkv7Weights;
import io.engram.scheduler.MixedPrefillTest.Greedy;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Short prompts that arrive together are read in one mixed pass (each prompt a segment of its own), not one pass
 * each. On the oracle checkpoint, through the real scheduler: four prompts held in the queue until the device
 * thread is free are read together (the grouped-prefill counter moves), and each one's greedy tokens are exactly
 * those it generates alone.
 */
class GroupedPrefillTest {

    @Test
    void promptsArrivingTogetherShareOnePassAndGenerateWhatTheyGenerateAlone() throws Exception {
        EngramProperties props = MixedPrefillTest.props();
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"));
             Rwkv7Model m = new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 256, true)) {
            List<int[]> prompts = new ArrayList<>();
            for (int p = 0; p < 4; p++) {
                int[] t = new int[12 + 5 * p];                  // longer than a step's ride, short enough to read whole
                for (int i = 0; i < t.length; i++) t[i] = (7 * i + 31 * p + 3) % 250 + 1;
                prompts.add(t);
            }
            List<List<Integer>> alone = new ArrayList<>();
            for (int[] p : prompts) {
                DeviceScheduler s = new DeviceScheduler(props, new EngramMetrics(new SimpleMeterRegistry()));
                try {
                    Greedy g = new Greedy(m, m.zeroState(), p, 12);
                    s.submit(g);
                    alone.add(g.done.get(60, TimeUnit.SECONDS));
                } finally {
                    s.destroy();
                }
            }

            DeviceScheduler scheduler = new DeviceScheduler(props, new EngramMetrics(new SimpleMeterRegistry()));
            try {
                CountDownLatch holding = new CountDownLatch(1), release = new CountDownLatch(1);
                Holder holder = new Holder(m, m.zeroState(), holding, release);
                scheduler.submit(holder);
                assertTrue(holding.await(60, TimeUnit.SECONDS), "the device thread reached the holder");
                List<Greedy> together = new ArrayList<>();
                for (int[] p : prompts) {
                    Greedy g = new Greedy(m, m.zeroState(), p, 12);
                    together.add(g);
                    scheduler.submit(g);                        // queued while the device thread is held
                }
                release.countDown();
                for (int i = 0; i < prompts.size(); i++) {
                    assertEquals(alone.get(i), together.get(i).done.get(60, TimeUnit.SECONDS), "prompt " + i);
                }
                assertEquals(1, scheduler.groupedPrefills(), "the four prompts were read in one pass");
            } finally {
                scheduler.destroy();
            }
        }
    }

    /** Decodes one token, then holds the device thread in {@code next()} until released; then stops. */
    static final class Holder extends Greedy {
        private final CountDownLatch holding, release;

        Holder(LanguageModel model, ModelState state, CountDownLatch holding, CountDownLatch release) {
            super(model, state, new int[] {1, 2}, 1);
            this.holding = holding;
            this.release = release;
        }

        @Override
        protected int next() {
            holding.countDown();
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return -1;
        }
    }
}
