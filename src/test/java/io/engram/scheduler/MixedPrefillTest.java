package io.engram.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.config.EngramProperties;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.model.rwkv7.Rwkv7Model;
import io.engram.model.rwkv7.Rwkv7Weights;
import io.engram.testsupport.Fixtures;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/**
 * A long document primed while another sequence decodes rides along in the decode steps (mixed steps, one pass
 * over the weights each) instead of taking prefill passes of its own. On the oracle checkpoint, through the real
 * scheduler: the decoding sequence's greedy tokens are exactly those it generates alone (its rows never mix with
 * the chunk's in the Java kernels), the primed state matches priming the document alone within float32 rounding
 * (alone it is read in 256-token chunks, by libtorch's GEMM unless the Java kernels take chunks too; riding, a few
 * tokens per step through the Java kernels: bound 1e-4 of the largest state value), and mixed steps did happen.
 */
class MixedPrefillTest {

    @Test
    void aPrimeRidesAlongWithDecodeAndChangesNothing() throws Exception {
        EngramProperties props = props();
        try (Checkpoint ck = Checkpoints.open(Fixtures.shared("oracle/rwkv7_a.safetensors"));
             Rwkv7Model m = new Rwkv7Model(Rwkv7Weights.read(ck), Fixtures.device(), 256, true)) {
            int[] doc = new int[600];
            for (int i = 0; i < doc.length; i++) doc[i] = (13 * i + 5) % 250 + 1;
            int[] prompt = {3, 1, 4, 1, 5};

            List<Integer> alone = generateAlone(props, m, prompt);
            ModelState primedAlone = m.zeroState();
            m.forward(primedAlone, doc, false);

            DeviceScheduler scheduler = new DeviceScheduler(props, new EngramMetrics(new SimpleMeterRegistry()));
            try {
                Greedy g = new Greedy(m, m.zeroState(), prompt, 400);
                scheduler.submit(g);
                while (g.tokens.size() < 2) Thread.sleep(1);            // decoding before the document arrives
                var primed = scheduler.prime(m, "m", m.zeroState(), doc, Duration.ofSeconds(60)).get(60, TimeUnit.SECONDS);
                List<Integer> together = g.done.get(60, TimeUnit.SECONDS);
                assertEquals(alone, together.subList(0, alone.size()), "greedy tokens while a document rides along");
                assertTrue(scheduler.mixedSteps() > 0, "the document rode along in decode steps");
                assertEquals(primedAlone.position(), primed.state().position());
                List<StateTensor> a = primedAlone.tensors(), b = primed.state().tensors();
                for (int k = 0; k < a.size(); k++) {
                    float[] x = a.get(k).data(), y = b.get(k).data();
                    double max = 0, worst = 0;
                    for (int i = 0; i < x.length; i++) {
                        max = Math.max(max, Math.abs(x[i]));
                        worst = Math.max(worst, Math.abs(x[i] - y[i]));
                    }
                    assertTrue(worst <= 1e-4 * Math.max(max, 1e-3), a.get(k).name() + " differs by " + worst + " (max " + max + ")");
                }
            } finally {
                scheduler.destroy();
            }
        }
    }

    /** The scheduler's settings for these tests: the defaults with 256-token chunks. */
    static EngramProperties props() {
        return new Binder(new MapConfigurationPropertySource(Map.of("engram.scheduler.chunk-tokens", "256")))
                .bindOrCreate("engram", EngramProperties.class);
    }

    /** The greedy tokens of {@code prompt} with nothing else on the scheduler. */
    private static List<Integer> generateAlone(EngramProperties props, LanguageModel m, int[] prompt) throws Exception {
        DeviceScheduler scheduler = new DeviceScheduler(props, new EngramMetrics(new SimpleMeterRegistry()));
        try {
            Greedy g = new Greedy(m, m.zeroState(), prompt, 400);
            scheduler.submit(g);
            return g.done.get(60, TimeUnit.SECONDS);
        } finally {
            scheduler.destroy();
        }
    }

    /** Reads a prompt, then decodes {@code n} greedy tokens. */
    static class Greedy extends Sequence {
        final List<Integer> tokens = java.util.Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<List<Integer>> done = new CompletableFuture<>();
        private final int n;

        Greedy(LanguageModel model, ModelState state, int[] prompt, int n) {
            super(model, "m", state, prompt, null, System.nanoTime(), Duration.ofSeconds(60).toNanos());
            this.n = n;
        }

        @Override protected boolean needsLogits() { return true; }
        @Override protected boolean prefillDone() { return true; }

        @Override
        protected int next() {
            if (tokens.size() >= n) {
                done.complete(new ArrayList<>(tokens));
                return -1;
            }
            int best = 0;
            for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
            tokens.add(best);
            return best;
        }

        @Override protected boolean fed() { return true; }
        @Override protected void abort(String reason) { done.completeExceptionally(new IllegalStateException(reason)); }
        @Override protected void fail(Throwable error) { done.completeExceptionally(error); }
    }
}
