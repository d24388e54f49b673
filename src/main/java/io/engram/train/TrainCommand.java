package io.engram.train;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code java -jar engram.jar train [--arch rwkv7|retnet] [--objective plain|composable] [--steps N] [--out DIR]
 * [--resume] ...} and {@code java -jar engram.jar eval-memory --model DIR [--model DIR ...] [--n N]}.
 * See {@link TrainOptions} for every option and {@code docs/COMPOSABLE_MEMORY.md} for what they produced.
 */
public final class TrainCommand {

    private TrainCommand() {}

    static final String USAGE = "usage: train [--arch rwkv7|retnet] [--objective plain|composable] [--steps N] [--batch B]"
            + " [--lr X] [--warmup N] [--clip X] [--seed S] [--layers L] [--dim D] [--head-size N] [--facts F]"
            + " [--docs 1,2,4] [--out DIR] [--checkpoint-every N] [--resume]";

    public static int train(String[] args) throws Exception {
        if (Arrays.asList(args).contains("--help")) {
            System.out.println(USAGE);
            System.out.println("defaults: " + TrainOptions.defaults(Path.of("runs")).describe() + ", out runs/<arch>-<objective>");
            return 0;
        }
        boolean resume = Arrays.asList(args).contains("--resume");
        TrainOptions o;
        try {
            o = TrainOptions.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("train: " + e.getMessage());
            System.err.println(USAGE);
            return 2;
        }
        long t0 = System.nanoTime();
        try (Trainer t = new Trainer(o, resume)) {
            long params = t.model().parameters().values().stream().mapToLong(a -> a.size()).sum();
            System.out.printf("training %s (%s objective): %d layers, width %d, %,d parameters, vocabulary %d; %d steps of %d examples%s -> %s%n",
                    o.arch(), o.objective().name().toLowerCase(), o.layers(), o.dim(), params, RecallCorpus.vocabSize(),
                    o.steps(), o.batch(), t.stepsDone() > 0 ? " (resuming at step " + t.stepsDone() + ")" : "", o.out());
            List<Trainer.StepResult> r = t.run(System.out);
            long tokens = r.stream().mapToLong(Trainer.StepResult::tokens).sum();
            System.out.printf("done: %,d tokens in %.1f min; final loss %.4f; model folder %s%n", tokens,
                    (System.nanoTime() - t0) / 60e9, r.isEmpty() ? Float.NaN : r.get(r.size() - 1).loss(), o.out());
        }
        return 0;
    }

    public static int evaluate(String[] args) throws Exception {
        List<Path> models = new java.util.ArrayList<>();
        int n = 200, facts = 1;
        int[] groups = {1, 2, 4, 8};
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--model" -> models.add(Path.of(args[i + 1]));
                case "--n" -> n = Integer.parseInt(args[i + 1]);
                case "--facts" -> facts = Integer.parseInt(args[i + 1]);
                case "--docs" -> groups = Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> {
                    System.err.println("usage: eval-memory --model DIR [--model DIR ...] [--n 200] [--facts 1] [--docs 1,2,4,8]");
                    return 2;
                }
            }
        }
        if (models.isEmpty()) {
            System.err.println("usage: eval-memory --model DIR [--model DIR ...] [--n 200] [--facts 1] [--docs 1,2,4,8]");
            return 2;
        }
        StringBuilder table = new StringBuilder("| model | read from | documents | exact match | random fact in memory |\n|---|---|---:|---:|---:|\n");
        for (Path m : models) {
            long t0 = System.nanoTime();
            for (MemoryEval.Row row : MemoryEval.run(m, groups, facts, n, 20261129L)) {
                String mode = row.mode().equals("mean") ? (row.documents() == 1 ? "one state" : "mean of states") : "concatenation";
                table.append(String.format("| %s | %s | %d | %.1f%% (%d/%d) | %.1f%% |%n", m.getFileName(), mode, row.documents(),
                        100 * row.accuracy(), row.correct(), row.asked(), 100.0 / (row.documents() * facts)));
            }
            System.err.printf("%s evaluated in %.1f s%n", m, (System.nanoTime() - t0) / 1e9);
        }
        System.out.print(table);
        return 0;
    }
}
