package io.engram.model.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.train.MemoryEval;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo model in git (models/demo) is the trained recall model, the jar bundles exactly those files, and it still
 * answers held-out questions as docs/COMPOSABLE_MEMORY.md reports (thresholds well below the reported accuracy, so
 * only a broken model or serving path fails them).
 */
class TrainedDemoModelTest {

    static final Path DEMO = Path.of("models/demo");

    @Test
    void theDemoInGitIsTrainedAndAnswersFromOneStateAndFromAMeanOfTwo() throws Exception {
        List<MemoryEval.Row> rows = MemoryEval.run(DEMO, new int[] {1, 2}, 1, 100, 11L);
        MemoryEval.Row one = rows.get(0), meanOfTwo = rows.get(2);
        assertEquals("mean", one.mode());
        assertEquals(2, meanOfTwo.documents());
        assertTrue(one.correct() >= 80, "one state: " + one.correct() + "/100");
        assertTrue(meanOfTwo.correct() >= 40, "mean of two states: " + meanOfTwo.correct() + "/100");
    }

    @Test
    void installCopiesTheBundledTrainedModel(@TempDir Path dir) throws Exception {
        assertTrue(DemoModel.install(dir.resolve("demo")), "the jar bundles models/demo");
        for (String f : new String[] {"config.json", "model.safetensors", "rwkv_vocab_v20230424.txt"}) {
            assertArrayEquals(Files.readAllBytes(DEMO.resolve(f)), Files.readAllBytes(dir.resolve("demo").resolve(f)), f);
        }
        try (LoadedModel m = ModelDirectory.load("demo", dir.resolve("demo"), new ModelDirectory.Options(Device.cpu(), 64, true));
             LoadedModel g = ModelDirectory.load("demo", DEMO, new ModelDirectory.Options(Device.cpu(), 64, true))) {
            assertEquals(g.fingerprint(), m.fingerprint());
        }
    }
}
