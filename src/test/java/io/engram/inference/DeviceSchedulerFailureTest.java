package io.engram.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.engram.config.EngramProperties;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.StateTensor;
import io.engram.scheduler.DeviceScheduler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** A sequence whose read fails leaves the batch at once: the model is not asked to read it again. */
class DeviceSchedulerFailureTest {

    @Test
    void aFailedReadIsNotRetriedInTheSameIteration() throws Exception {
        EngramProperties props = new Binder(new MapConfigurationPropertySource(Map.of("engram.scheduler.chunk-tokens", "256")))
                .bindOrCreate("engram", EngramProperties.class);
        DeviceScheduler scheduler = new DeviceScheduler(props, new EngramMetrics(new SimpleMeterRegistry()));
        try {
            Failing model = new Failing();
            // 20 tokens: more than a batched-step read (8), at most a short prompt (64), so read whole in prefill
            var f = scheduler.prime(model, "failing", null, new int[20], Duration.ofSeconds(30));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
            assertEquals("boom", e.getCause().getMessage());
            assertEquals(1, model.forwards.get(), "forward calls for the failed sequence");
        } finally {
            scheduler.destroy();
        }
    }

    /** A model whose every read fails; counts the reads. */
    static final class Failing implements LanguageModel {
        final AtomicInteger forwards = new AtomicInteger();

        @Override public String architecture() { return "rwkv7"; }
        @Override public int vocabSize() { return 256; }
        @Override public int layers() { return 1; }
        @Override public long parameters() { return 0; }
        @Override public ModelState zeroState() { throw new UnsupportedOperationException(); }
        @Override public ModelState stateOf(List<StateTensor> tensors, long position) { throw new UnsupportedOperationException(); }
        @Override public long stateBytes() { return 0; }
        @Override public ModelState combine(List<ModelState> states, double[] weights) { throw new UnsupportedOperationException(); }
        @Override public void close() {}

        @Override
        public float[] forward(ModelState state, int[] tokens, boolean wantLogits) {
            forwards.incrementAndGet();
            throw new IllegalStateException("boom");
        }
    }
}
