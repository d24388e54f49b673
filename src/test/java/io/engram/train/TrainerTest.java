package io.engram.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training works end to end at a tiny shape, in CI time: the loss falls, the checkpoint is a model folder the serving
 * stack loads, and it answers held-out questions far above chance; an interrupted run resumes exactly.
 */
class TrainerTest {

    @TempDir Path dir;

    /** A trivial recall set: one document holding one fact, asked about that fact; a 2-layer, width-64 model. */
    static TrainOptions trivial(String arch, Objective objective, int steps, Path out) {
        return new TrainOptions(arch, objective, steps, 16, 3e-3f, 30, 1f, 7L, 2, 64, 32, 1, new int[] {1}, out, 1000);
    }

    /** Trains; returns the mean answer loss (read from the document's state) over the first and the last 20 steps. */
    private double[] train(TrainOptions o) throws Exception {
        List<Trainer.StepResult> r;
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        try (Trainer t = new Trainer(o, false)) {
            r = t.run(new PrintStream(progress, true));
        }
        assertTrue(progress.toString().contains(o.steps() + "/" + o.steps() + " loss"), "progress bar printed");
        return new double[] {
            r.subList(0, 20).stream().mapToDouble(Trainer.StepResult::composableLoss).average().orElseThrow(),
            r.subList(o.steps() - 20, o.steps()).stream().mapToDouble(Trainer.StepResult::composableLoss).average().orElseThrow()};
    }

    /**
     * RetNet, 400 steps (about 30 s): the answer loss falls, and the checkpoint, loaded as the server loads it,
     * answers held-out questions exactly far more often than chance (a held-out answer is one of 10,000 codes or 576
     * cities, so guessing gets about 1 in 1,000 right; at least 4 of 200 are required, and this run gets 10).
     */
    @Test
    void retnetLearnsTrivialRecallInAFewHundredSteps() throws Exception {
        Path out = dir.resolve("retnet");
        double[] loss = train(trivial("retnet", Objective.COMPOSABLE, 400, out));
        assertTrue(loss[1] < 0.7 * loss[0], "answer loss " + loss[0] + " -> " + loss[1]);
        MemoryEval.Row one = MemoryEval.run(out, new int[] {1}, 1, 200, 5L).get(0);
        assertEquals("mean", one.mode());
        assertTrue(one.correct() >= 4, one.correct() + "/200 held-out answers exactly right from the primed state");
    }

    /**
     * RWKV-7, 300 steps (about a minute): the answer loss falls by a third. RWKV-7 learns this recall later than
     * RetNet (after about 600 steps at this shape), so exact answers are checked on the RetNet run only.
     */
    @Test
    void rwkv7LowersTheAnswerLossInAFewHundredSteps() throws Exception {
        double[] loss = train(trivial("rwkv7", Objective.COMPOSABLE, 300, dir.resolve("rwkv7")));
        assertTrue(loss[1] < 0.67 * loss[0], "answer loss " + loss[0] + " -> " + loss[1]);
    }

    @Test
    void everyStepStartsFromClearedGradients() throws Exception {
        try (Trainer t = new Trainer(trivial("rwkv7", Objective.COMPOSABLE, 2, dir.resolve("g")), false)) {
            t.step();
            for (var e : t.model().parameters().entrySet()) {
                try (var g = e.getValue().getGradient()) {
                    assertEquals(0f, g.abs().max().getFloat(), e.getKey() + " keeps a gradient after the update");
                }
            }
        }
    }

    /**
     * Two steps straight against one, a save, a resume and one more. Not more: on the PyTorch CPU engine the backward
     * pass of these tiny models is not reproducible from run to run beyond the first steps (found 2026-12-07 with a
     * driver that prints every step's gradient norm from the same seed: steps 1-2 bit-identical in every run, then
     * RWKV-7's step 3 and RetNet's step 7 give the same loss but a gradient norm that varies between runs, e.g.
     * 986 or infinity, single-threaded too, whatever the data seed and learning rate; not yet explained). A longer
     * comparison then fails when one run meets an infinite gradient and skips its update while the other does not,
     * which says nothing about resuming: CI met that once at step 5.
     */
    @Test
    void aResumedRunEqualsTheUninterruptedOne() throws Exception {
        for (String arch : new String[] {"rwkv7", "retnet"}) {
            Path straight = dir.resolve(arch + "-straight"), resumed = dir.resolve(arch + "-resumed");
            try (Trainer t = new Trainer(trivial(arch, Objective.COMPOSABLE, 2, straight), false)) {
                t.run(new PrintStream(new ByteArrayOutputStream()));
            }
            try (Trainer t = new Trainer(trivial(arch, Objective.COMPOSABLE, 1, resumed), false)) {
                t.run(new PrintStream(new ByteArrayOutputStream()));
            }
            try (Trainer t = new Trainer(trivial(arch, Objective.COMPOSABLE, 2, resumed), true)) {
                assertEquals(1, t.stepsDone());
                t.run(new PrintStream(new ByteArrayOutputStream()));
            }
            try (Checkpoint a = Checkpoints.open(straight.resolve("model.safetensors"));
                 Checkpoint b = Checkpoints.open(resumed.resolve("model.safetensors"))) {
                assertEquals(a.names(), b.names());
                for (String n : a.names()) assertArrayEquals(a.get(n).toFloatArray(), b.get(n).toFloatArray(), 1e-6f, arch + " " + n);
            }
        }
    }

    /**
     * A run killed between the files of a checkpoint (simulated by stopping the save after 1, 2, 3 or 4 of its
     * files) resumes from one consistent set and ends exactly where the uninterrupted run does. Two steps, for the
     * reason given above.
     */
    @Test
    void aRunKilledBetweenCheckpointFilesStillResumesExactly() throws Exception {
        Path straight = dir.resolve("kill-straight");
        try (Trainer t = new Trainer(trivial("rwkv7", Objective.COMPOSABLE, 2, straight), false)) {
            t.run(new PrintStream(new ByteArrayOutputStream()));
        }
        for (int files = 1; files <= 4; files++) {
            Path out = dir.resolve("kill-after-" + files);
            try (Trainer t = new Trainer(trivial("rwkv7", Objective.COMPOSABLE, 1, out), false)) {
                t.run(new PrintStream(new ByteArrayOutputStream()));
            }
            int[] written = {0};
            int stopAfter = files;
            try (Trainer t = new Trainer(trivial("rwkv7", Objective.COMPOSABLE, 2, out), true)) {
                t.afterEachFile = () -> {
                    if (++written[0] == stopAfter) throw new IllegalStateException("killed");
                };
                assertThrows(IllegalStateException.class, () -> t.run(new PrintStream(new ByteArrayOutputStream())));
            }
            try (Trainer t = new Trainer(trivial("rwkv7", Objective.COMPOSABLE, 2, out), true)) {
                assertEquals(files == 4 ? 2 : 1, t.stepsDone(), "after a kill behind file " + files);
                t.run(new PrintStream(new ByteArrayOutputStream()));
            }
            try (Checkpoint a = Checkpoints.open(straight.resolve("model.safetensors"));
                 Checkpoint b = Checkpoints.open(out.resolve("model.safetensors"))) {
                for (String n : a.names()) assertArrayEquals(a.get(n).toFloatArray(), b.get(n).toFloatArray(), 1e-6f, files + " " + n);
            }
        }
    }
}
