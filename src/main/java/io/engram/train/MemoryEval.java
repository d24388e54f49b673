package io.engram.train;

import ai.djl.Device;
import io.engram.model.LanguageModel;
import io.engram.model.LoadedModel;
import io.engram.model.ModelDirectory;
import io.engram.model.ModelState;
import io.engram.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Exact-match answer accuracy on held-out facts, measured through the serving stack: the model folder is loaded as
 * the server loads it, every document is primed separately ({@code LanguageModel.forward}), states are combined by
 * {@code LanguageModel.combine} (the same code as {@code /v1/states/combine}) and the answer is decoded greedily.
 * The examples come from a fixed seed, so every model is asked the same questions.
 */
public final class MemoryEval {

    /** One row of the report: reading from {@code mode} over {@code documents} documents. */
    public record Row(String mode, int documents, int correct, int asked) {
        public double accuracy() {
            return (double) correct / asked;
        }
    }

    public enum Mode { MEAN, CONCATENATED }

    private MemoryEval() {}

    /** Asks {@code n} held-out questions for each group size and mode. */
    public static List<Row> run(Path modelDir, int[] groupSizes, int facts, int n, long seed) throws IOException {
        List<Row> rows = new ArrayList<>();
        try (LoadedModel lm = ModelDirectory.load("eval", modelDir, new ModelDirectory.Options(Device.cpu(), 512, true))) {
            RecallCorpus corpus = new RecallCorpus();
            for (int g : groupSizes) {
                int[] correct = new int[Mode.values().length];
                SplittableRandom rnd = new SplittableRandom(seed + g);
                for (int i = 0; i < n; i++) {
                    RecallCorpus.Example e = corpus.example(rnd, RecallCorpus.Split.HELD_OUT, g, facts);
                    for (Mode m : Mode.values()) {
                        if (answer(lm.model(), lm.tokenizer(), e, m).equals(e.asked().answer())) correct[m.ordinal()]++;
                    }
                }
                for (Mode m : Mode.values()) rows.add(new Row(m.name().toLowerCase(), g, correct[m.ordinal()], n));
            }
        }
        return rows;
    }

    /** The model's greedy answer (as many tokens as the true answer has) to the example's question. */
    public static String answer(LanguageModel model, Tokenizer tok, RecallCorpus.Example e, Mode mode) {
        ModelState s;
        float[] logits;
        if (mode == Mode.CONCATENATED) {
            s = model.zeroState();
            logits = model.forward(s, tok.encode(e.concatenated() + e.asked().question()), true);
        } else {
            List<ModelState> states = new ArrayList<>();
            for (String d : e.documentTexts()) {
                ModelState one = model.zeroState();
                model.forward(one, tok.encode(d), false);
                states.add(one);
            }
            double[] w = new double[states.size()];
            Arrays.fill(w, 1.0 / w.length);
            s = states.size() == 1 ? states.get(0) : model.combine(states, w);
            logits = model.forward(s, tok.encode(e.asked().question()), true);
        }
        int[] out = new int[RecallCorpus.ANSWER_TOKENS];
        for (int i = 0; i < out.length; i++) {
            out[i] = argmax(logits);
            if (i + 1 < out.length) logits = model.forward(s, new int[] {out[i]}, true);
        }
        return tok.decode(out);
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
