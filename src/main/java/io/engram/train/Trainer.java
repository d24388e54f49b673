package io.engram.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.tracker.Tracker;
import io.engram.model.TrainableModel;
import io.engram.model.retnet.RetNetConfig;
import io.engram.model.retnet.RetNetTrainable;
import io.engram.model.rwkv7.Rwkv7Config;
import io.engram.model.rwkv7.Rwkv7Trainable;
import io.engram.tokenizer.RwkvWorldTokenizer;
import io.engram.tokenizer.Tokenizer;
import io.engram.weights.Checkpoint;
import io.engram.weights.Checkpoints;
import io.engram.weights.HostTensor;
import io.engram.weights.InMemoryCheckpoint;
import io.engram.weights.SafetensorsWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import tools.jackson.databind.json.JsonMapper;

/**
 * Trains a small RWKV-7 or RetNet on the {@link RecallCorpus} with DJL's training machinery on the PyTorch engine:
 * autograd ({@link GradientCollector}), DJL's Adam update kernel, global gradient-norm clipping, a warm-up + cosine
 * learning-rate schedule ({@link Tracker}), and checkpoints that are model folders the server loads as they are
 * ({@code model.safetensors} with official tensor names, {@code config.json}, the corpus vocabulary) plus the
 * optimiser's moments ({@code train-state.safetensors}, {@code train-state.json}) to resume from.
 *
 * <p>Step {@code s} draws its examples from a generator seeded by (seed, s), so a resumed run sees exactly the
 * examples the uninterrupted run would have.
 */
public final class Trainer implements AutoCloseable {

    public static final String STATE_FILE = "train-state.safetensors";
    public static final String STATE_JSON = "train-state.json";
    static final float BETA1 = 0.9f, BETA2 = 0.99f, EPS = 1e-8f;

    private final TrainOptions o;
    private final TrainableModel model;
    private final Tokenizer tokenizer;
    private final RecallCorpus corpus = new RecallCorpus();
    private final NDManager manager;
    private final Map<String, NDArray> mean = new LinkedHashMap<>(), variance = new LinkedHashMap<>();
    private final Tracker schedule;
    private int step;
    /** Steps whose gradient was not finite and which therefore left the weights unchanged. */
    private int skipped;

    /** What one step measured. */
    public record StepResult(int step, float loss, float plainLoss, float composableLoss, float gradNorm, float lr, long tokens,
                             int skipped) {}

    public Trainer(TrainOptions o, boolean resume) throws IOException {
        this.o = o;
        Files.createDirectories(o.out());
        Path vocab = o.out().resolve(RwkvWorldTokenizer.VOCAB_FILE);
        RecallCorpus.writeVocabulary(vocab);
        this.tokenizer = RwkvWorldTokenizer.load(vocab);
        Path stateJson = o.out().resolve(STATE_JSON);
        if (resume) recover(o.out());
        boolean resuming = resume && Files.exists(stateJson);
        Map<String, HostTensor> weights;
        if (resuming) {
            weights = read(o.out().resolve("model.safetensors"));
            Map<?, ?> s = JsonMapper.builder().build().readValue(Files.readString(stateJson), Map.class);
            step = ((Number) s.get("step")).intValue();
            skipped = s.get("skipped") instanceof Number k ? k.intValue() : 0;
        } else {
            weights = null;
        }
        this.model = create(o, weights);
        this.manager = NDManager.newBaseManager(Device.cpu());
        Map<String, HostTensor> moments = resuming ? read(o.out().resolve(STATE_FILE)) : Map.of();
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            Shape shape = e.getValue().getShape();
            mean.put(e.getKey(), moment(moments.get("m." + e.getKey()), shape));
            variance.put(e.getKey(), moment(moments.get("v." + e.getKey()), shape));
        }
        int decaySteps = Math.max(1, o.steps() - o.warmup());
        Tracker cosine = Tracker.cosine().setBaseValue(o.lr()).optFinalValue(o.lr() / 10).setMaxUpdates(decaySteps).build();
        this.schedule = o.warmup() == 0 ? cosine : Tracker.warmUp().optWarmUpBeginValue(o.lr() / 100)
                .optWarmUpSteps(o.warmup()).setMainTracker(cosine).build();
    }

    private NDArray moment(HostTensor saved, Shape shape) {
        return saved == null ? manager.zeros(shape) : manager.create(saved.toFloatArray(), shape);
    }

    /** A fresh model of the options' shape, or one holding {@code weights}. */
    static TrainableModel create(TrainOptions o, Map<String, HostTensor> weights) {
        int vocab = RecallCorpus.vocabSize();
        if (o.arch().equals("rwkv7")) {
            int lora = Math.max(8, o.dim() / 8);
            Rwkv7Config s = Rwkv7Config.of(o.layers(), o.dim(), o.headSize(), vocab, 4 * o.dim(),
                    lora, lora, Math.max(8, lora / 2), 2 * lora);
            return Rwkv7Trainable.create(weights != null ? weights : Rwkv7Trainable.init(s, o.seed()), Device.cpu());
        }
        RetNetConfig cfg = retnetConfig(o, vocab);
        return RetNetTrainable.create(cfg, weights != null ? weights : RetNetTrainable.init(cfg, o.seed()), Device.cpu());
    }

    /** The RetNet shape for the options: value width 2·D and FFN 2·D (torchscale's ratios), SwiGLU, no embed scaling. */
    static RetNetConfig retnetConfig(TrainOptions o, int vocab) {
        return new RetNetConfig(o.dim(), 2 * o.dim(), o.dim() / o.headSize(), 2 * o.dim(), o.layers(),
                RetNetConfig.Activation.SWISH, true, false, 1e-6f, vocab, 512);
    }

    public TrainableModel model() {
        return model;
    }

    /** Steps skipped because their gradient was not finite. */
    public int skippedSteps() {
        return skipped;
    }

    /** Steps done so far (including those of a resumed run). */
    public int stepsDone() {
        return step;
    }

    /** Runs to {@code o.steps()}, printing a progress bar to {@code log}; checkpoints on the way and at the end. */
    public List<StepResult> run(PrintStream log) throws IOException {
        List<StepResult> results = new ArrayList<>();
        Progress bar = new Progress(log, o.steps(), step);
        while (step < o.steps()) {
            StepResult r = step();
            results.add(r);
            bar.update(r);
            if (step % o.checkpointEvery() == 0 || step == o.steps()) save();
        }
        bar.done();
        return results;
    }

    /** One optimiser step on a fresh batch. */
    public StepResult step() {
        SplittableRandom rnd = new SplittableRandom(o.seed() * 1_000_003L + step);
        int g = o.documents()[rnd.nextInt(o.documents().length)];
        List<RecallCorpus.Example> batch = new ArrayList<>();
        for (int i = 0; i < o.batch(); i++) batch.add(corpus.example(rnd, RecallCorpus.Split.TRAIN, g, o.factsPerDocument()));
        float lr = schedule.getNewValue(step);
        try (NDManager m = manager.newSubManager()) {
            float plain, composable = 0f;
            long tokens;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                Batch concat = concatenated(m, batch);
                NDArray logits = model.forward(concat.input, model.zeroState(m, batch.size())).logits();
                NDArray loss = crossEntropy(logits, concat.target, concat.mask);
                tokens = concat.input.size();
                plain = loss.getFloat();
                if (o.objective() == Objective.COMPOSABLE) {
                    NDArray composed = composedLoss(m, batch, g);
                    composable = composed.getFloat();
                    tokens += (long) batch.size() * g * RecallCorpus.FACT_TOKENS * o.factsPerDocument()
                            + (long) batch.size() * (RecallCorpus.QA_TOKENS - 1);
                    loss = loss.add(composed);
                }
                beforeBackward.run();
                gc.backward(loss);
            }
            float norm = update(lr);
            step++;
            return new StepResult(step, plain + composable, plain, composable, norm, lr, tokens, skipped);
        }
    }

    /** Inputs, next-token targets and the loss mask of a batch of token rows. */
    private record Batch(NDArray input, NDArray target, NDArray mask) {}

    /** documents joined by newlines, then question + answer; the loss covers question and answer tokens. */
    private Batch concatenated(NDManager m, List<RecallCorpus.Example> batch) {
        List<int[]> rows = new ArrayList<>();
        for (RecallCorpus.Example e : batch) {
            rows.add(tokenizer.encode(e.concatenated() + e.asked().question() + e.asked().answer()));
        }
        return rows(m, rows, RecallCorpus.QA_TOKENS);
    }

    /**
     * Each document read separately from the zero state (batch B·g), the states averaged in groups of g with equal
     * weights, then the question read from the mean: the loss of the answer tokens.
     */
    private NDArray composedLoss(NDManager m, List<RecallCorpus.Example> batch, int g) {
        List<int[]> docs = new ArrayList<>(), qa = new ArrayList<>();
        for (RecallCorpus.Example e : batch) {
            for (String d : e.documentTexts()) docs.add(tokenizer.encode(d));
            qa.add(tokenizer.encode(e.asked().question() + e.asked().answer()));
        }
        TrainableModel.TrainState read = model.forward(matrix(m, docs), model.zeroState(m, docs.size())).state();
        float[] w = new float[g];
        java.util.Arrays.fill(w, 1f / g);
        TrainableModel.TrainState mixed = model.mean(read, g, w);
        Batch q = rows(m, qa, RecallCorpus.ANSWER_TOKENS);
        return crossEntropy(model.forward(q.input, mixed).logits(), q.target, q.mask);
    }

    /** Rows of equal length → input = row[0, n-1), target = row[1, n), mask on the last {@code scored} targets. */
    private static Batch rows(NDManager m, List<int[]> rows, int scored) {
        int n = rows.get(0).length;
        int[] in = new int[rows.size() * (n - 1)], tg = new int[rows.size() * (n - 1)];
        float[] mask = new float[rows.size() * (n - 1)];
        for (int r = 0; r < rows.size(); r++) {
            int[] t = rows.get(r);
            if (t.length != n) throw new IllegalStateException("rows of one batch must have equal length: " + t.length + " vs " + n);
            for (int i = 0; i < n - 1; i++) {
                in[r * (n - 1) + i] = t[i];
                tg[r * (n - 1) + i] = t[i + 1];
                mask[r * (n - 1) + i] = i >= n - 1 - scored ? 1f : 0f;
            }
        }
        Shape s = new Shape(rows.size(), n - 1);
        return new Batch(m.create(in, s), m.create(tg, s).toType(DataType.INT64, false), m.create(mask, s));
    }

    private static NDArray matrix(NDManager m, List<int[]> rows) {
        int n = rows.get(0).length;
        int[] flat = new int[rows.size() * n];
        for (int r = 0; r < rows.size(); r++) {
            if (rows.get(r).length != n) throw new IllegalStateException("documents of one batch must have equal length");
            System.arraycopy(rows.get(r), 0, flat, r * n, n);
        }
        return m.create(flat, new Shape(rows.size(), n));
    }

    /** Mean negative log-likelihood of {@code target} over the positions where {@code mask} is 1. */
    static NDArray crossEntropy(NDArray logits, NDArray target, NDArray mask) {
        NDArray nll = logits.logSoftmax(-1).gather(target.expandDims(-1), -1).squeeze(-1).neg(); // [B,T]
        return nll.mul(mask).sum().div(mask.sum());
    }

    /** Clips the global gradient norm, applies DJL's Adam update, zeroes the gradients; returns the norm before clipping. */
    private float update(float lr) {
        double sq = 0;
        for (NDArray p : model.parameters().values()) {
            // the gradient and anything computed from it live in the parameter's (long-lived) manager: close them here
            try (NDArray g = p.getGradient(); NDArray g2 = g.square(); NDArray s = g2.sum()) {
                sq += s.getFloat();
            }
        }
        float norm = (float) Math.sqrt(sq);
        if (!Float.isFinite(norm)) {
            // a non-finite gradient: skip the update, as mixed-precision loss scalers do, rather than write NaN into every
            // weight and the moments; counted and reported. (Before 2026-12-08 this came from freed memory read by the
            // backward pass, see Nd.constant; since that fix it has not been seen, but a diverging run can still meet it.)
            skipped++;
            for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                try (NDArray g = e.getValue().getGradient(); NDManager tmp = manager.newSubManager()) {
                    NDArray gt = g.duplicate();
                    gt.attach(tmp);
                    if (skipped <= 3 && !Float.isFinite(gt.square().sum().getFloat())) {
                        System.err.printf("%nstep %d: gradient of %s is not finite (NaN: %b, max |g| %s); update skipped%n", step + 1,
                                e.getKey(), gt.isNaN().any().getBoolean(), gt.abs().max().getFloat());
                    }
                    g.set(new NDIndex("..."), tmp.zeros(g.getShape()));
                }
            }
            return norm;
        }
        float rescale = norm > o.clip() ? o.clip() / norm : 1f;
        int t = step + 1;
        float corrected = (float) (lr * Math.sqrt(1 - Math.pow(BETA2, t)) / (1 - Math.pow(BETA1, t)));
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            NDArray p = e.getValue();
            try (NDArray g = p.getGradient()) {
                p.getNDArrayInternal().adamUpdate(new NDList(p, g, mean.get(e.getKey()), variance.get(e.getKey())),
                        new NDList(p), corrected, lr, 0f, rescale, -1f, BETA1, BETA2, EPS, true, false); // zeroes p's gradient
            }
        }
        return norm;
    }

    /** Test hook: runs between the forward and the backward pass of every step (a test forces a collection there). */
    Runnable beforeBackward = () -> {};

    /** Test hook: runs after each file of a checkpoint is written, so a test can stop a save between files. */
    Runnable afterEachFile = () -> {};

    /**
     * Writes the model folder (weights, config, vocabulary) and the optimiser state as one set: every file is
     * first written complete beside its final name ({@code <name>.next}), then {@code train-state.json.next} (the
     * commit: it names the step), then each file is renamed into place and the commit last of all becomes
     * {@code train-state.json}. A run stopped at any point resumes from one consistent set: before the commit, the
     * previous files are untouched and the {@code .next} ones are discarded; after it, {@link #recover} finishes
     * the renames.
     */
    public void save() throws IOException {
        Map<String, String> meta = Map.of("format", "pt", "engram", "trained by 'engram train' " + o.describe() + ", step " + step);
        write(next(o.out().resolve("model.safetensors")), model.checkpoint(), meta);
        afterEachFile.run();
        Map<String, HostTensor> moments = new LinkedHashMap<>();
        for (String name : model.parameters().keySet()) {
            NDArray mm = mean.get(name), vv = variance.get(name);
            long[] shape = mm.getShape().getShape();
            moments.put("m." + name, HostTensor.ofFloats("m." + name, shape, mm.toFloatArray()));
            moments.put("v." + name, HostTensor.ofFloats("v." + name, shape, vv.toFloatArray()));
        }
        write(next(o.out().resolve(STATE_FILE)), moments, Map.of("format", "engram-adam"));
        afterEachFile.run();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", model.architecture());
        config.put("tokenizer", "rwkv-world");
        config.put("description", "Trained by Engram on a synthetic fact-recall corpus (" + o.objective().name().toLowerCase()
                + " objective, step " + step + " of " + o.steps() + "); see docs/COMPOSABLE_MEMORY.md");
        config.putAll(model.config());
        // chat messages in the corpus's own format: documents as system text, "\nQ: …" questions, " A:" answers
        Map<String, Object> chat = new LinkedHashMap<>();
        chat.put("system", "{content}");
        chat.put("user", "\nQ: {content}");
        chat.put("assistant", " A: {content}");
        chat.put("generation_prompt", " A:");
        chat.put("stop", List.of("."));
        config.put("chat_template", chat);
        config.put("training", o.describe());
        JsonMapper json = JsonMapper.builder().build();
        atomic(next(o.out().resolve("config.json")), json.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        afterEachFile.run();
        atomic(next(o.out().resolve(STATE_JSON)), json.writeValueAsString(Map.of("step", step, "skipped", skipped, "options", o.describe())));
        afterEachFile.run();
        recover(o.out());
    }

    /** The files of one checkpoint set; {@link #STATE_JSON} (the commit) is moved last. */
    private static final List<String> SET = List.of("model.safetensors", STATE_FILE, "config.json");

    private static Path next(Path file) {
        return file.resolveSibling(file.getFileName() + ".next");
    }

    /**
     * Brings {@code out} to one consistent checkpoint set: when a commit ({@code train-state.json.next}) is there,
     * the files written before it are moved into place and it becomes {@code train-state.json}; without one, a
     * stopped save's {@code .next} files are removed and the previous set stands.
     */
    static void recover(Path out) throws IOException {
        Path commit = next(out.resolve(STATE_JSON));
        boolean committed = Files.exists(commit);
        for (String name : SET) {
            Path n = next(out.resolve(name));
            if (!Files.exists(n)) continue;
            if (committed) Files.move(n, out.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            else Files.delete(n);
        }
        if (committed) Files.move(commit, out.resolve(STATE_JSON), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void write(Path file, Map<String, HostTensor> t, Map<String, String> meta) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        SafetensorsWriter.write(tmp, t, meta);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void atomic(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text + "\n");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Map<String, HostTensor> read(Path file) {
        try (Checkpoint ck = Checkpoints.open(file)) {
            return InMemoryCheckpoint.copyOf(ck);
        }
    }

    @Override
    public void close() {
        manager.close();
        model.close();
    }

    /** A one-line progress bar: step, loss (smoothed), tokens/s, elapsed and ETA; a full line every 5%. */
    static final class Progress {
        private final PrintStream out;
        private final int total, first;
        private final long start = System.nanoTime();
        private long tokens;
        private double smooth = Double.NaN;

        Progress(PrintStream out, int total, int first) {
            this.out = out;
            this.total = total;
            this.first = first;
        }

        void update(StepResult r) {
            tokens += r.tokens();
            if (Float.isFinite(r.loss())) smooth = Double.isNaN(smooth) ? r.loss() : 0.95 * smooth + 0.05 * r.loss();
            double secs = (System.nanoTime() - start) / 1e9;
            int done = r.step() - first;
            double eta = secs / done * (total - r.step());
            int width = 30, filled = (int) ((long) width * r.step() / total);
            String line = String.format("[%s%s] %d/%d loss %.3f (plain %.3f, composable %.3f) |g| %.2f lr %.2e %,.0f tok/s %s ETA %s%s",
                    "#".repeat(filled), ".".repeat(width - filled), r.step(), total, smooth, r.plainLoss(),
                    r.composableLoss(), r.gradNorm(), r.lr(), tokens / secs, clock(secs), clock(eta),
                    r.skipped() > 0 ? " (" + r.skipped() + " non-finite steps skipped)" : "");
            boolean milestone = r.step() == total || r.step() % Math.max(1, total / 20) == 0;
            out.print("\r" + line + (milestone ? "\n" : ""));
            out.flush();
        }

        void done() {
            out.printf("trained %d steps in %s%n", total - first, clock((System.nanoTime() - start) / 1e9));
        }

        static String clock(double s) {
            long t = Math.round(s);
            return String.format("%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
        }
    }
}
