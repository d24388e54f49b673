package io.engram.scheduler;

import io.engram.config.EngramProperties;
import io.engram.error.EngramException;
import io.engram.error.ProblemType;
import io.engram.metrics.EngramMetrics;
import io.engram.model.LanguageModel;
import io.engram.model.ModelState;
import io.engram.model.ops.CpuTeam;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * The one owner of the device: a loop on a dedicated platform thread (native calls pin virtual threads, and a
 * DJL model is not thread-safe) that advances every admitted sequence together.
 *
 * <p>Each iteration (continuous batching, in the manner of Orca and vLLM):
 * <ol>
 *   <li>admits waiting sequences, first come first served, up to {@code max-running};</li>
 *   <li>drops sequences whose client went away or whose deadline passed;</li>
 *   <li>reads input for sequences still reading (chunked prefill): short prompts whole, then one chunk of the
 *       oldest long input. While others decode, that chunk rides along in the decode step instead (a mixed step:
 *       one pass over the weights, where a chunk of its own would cost another), sized to add about half a decode
 *       step ({@link #PREFILL_SHARE}), which keeps every stream's time between tokens bounded while a long
 *       document is primed;</li>
 *   <li>samples one token for every decoding sequence (the sampling itself in parallel on the CPU team, then each
 *       sequence emits its token in turn) and reads them all in one batched step, with the riding chunk if any.</li>
 * </ol>
 * Waiting requests beyond {@code max-queued} are refused with 429 and Retry-After.
 */
@Component
public class DeviceScheduler implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(DeviceScheduler.class);

    private final BlockingQueue<Sequence> waiting;
    private final List<Sequence> active = new ArrayList<>();
    private final int maxRunning;
    private final int chunkTokens;
    private final Thread thread;
    private volatile boolean stopping;
    private volatile int running;
    /** {@code -Dengram.scheduler.mixed-steps=false} reads every chunk in a pass of its own (a measurement knob for docs/PERFORMANCE.md). */
    static final boolean MIXED_STEPS = !"false".equals(System.getProperty("engram.scheduler.mixed-steps"));
    /** Moving averages used to size prefill chunks: ms per prefill token, ms per decode step. */
    private double prefillMsPerToken = 1, decodeStepMs = 0;
    /**
     * A long input that reads its next {@link #riderTokens} tokens inside the coming decode step (one pass over the
     * weights with the decode rows, {@link LanguageModel#stepMixed}) instead of a prefill pass of its own; null
     * when none. Only for models whose mixed step is one pass ({@link LanguageModel#mixesSteps}).
     */
    private Sequence rider;
    private int riderTokens;
    /** What one riding token adds to a decode step, ms (moving average; 0 until measured). */
    private double riderMsPerToken = 0;
    /**
     * A decode step without a rider, ms, by its number of rows (moving averages; 0 = not measured): what a rider's
     * budget and cost are measured against, for the batch as it is now, not as it was when the prime began.
     */
    private final double[] pureStepMs;
    /** Decode steps so far; every {@link #REMEASURE}th one carries no rider, to keep {@link #pureStepMs} current. */
    private long steps;
    private static final int REMEASURE = 32;
    /** Iterations in a row in which the long input did not ride (being measured): after two it rides regardless. */
    private int notRidden;
    private volatile long mixedSteps;
    private volatile long groupedPrefills;

    public DeviceScheduler(EngramProperties props, EngramMetrics metrics) {
        this.waiting = new ArrayBlockingQueue<>(props.scheduler().maxQueued());
        this.maxRunning = props.scheduler().maxRunning();
        this.pureStepMs = new double[maxRunning + 1];      // a step has at most max-running rows
        this.chunkTokens = props.scheduler().chunkTokens();
        this.thread = new Thread(this::loop, "engram-device-0");
        this.thread.setDaemon(true);
        this.thread.start();
        metrics.schedulerGauges(this::running, this::waiting);
    }

    /** Queues a sequence; throws a 429 problem when the queue is full. */
    public void submit(Sequence s) {
        if (stopping) throw new EngramException(ProblemType.UNAVAILABLE, "the server is shutting down; retry on another replica", 1L);
        if (!waiting.offer(s)) {
            throw new EngramException(ProblemType.OVERLOADED, "the request queue is full (" + waiting.size()
                    + " waiting); retry shortly", 1L);
        }
    }

    /** Reads {@code tokens} into {@code state} (which the caller hands over) and returns it with its logits. */
    public java.util.concurrent.CompletableFuture<PrimeSequence.Primed> prime(LanguageModel model, String modelId,
                                                                              ModelState state, int[] tokens, java.time.Duration timeout) {
        PrimeSequence s = new PrimeSequence(model, modelId, state, tokens, timeout.toNanos());
        submit(s);
        return s.future;
    }

    /** Decode steps so far that carried a riding input (a mixed step); for tests and the benchmark. */
    public long mixedSteps() {
        return mixedSteps;
    }

    /** Passes that read several short prompts at once ({@link #readWhole}); for tests and the benchmark. */
    public long groupedPrefills() {
        return groupedPrefills;
    }

    /** Sequences admitted to the batch (reading or decoding). */
    public int running() {
        return running;
    }

    /** Sequences queued behind them. */
    public int waiting() {
        return waiting.size();
    }

    private void loop() {
        while (!stopping) {
            try {
                if (active.isEmpty()) {
                    Sequence s = waiting.poll(200, TimeUnit.MILLISECONDS);
                    if (s == null) continue;
                    admit(s);
                }
                iteration();
            } catch (InterruptedException e) {
                break;
            } catch (Throwable t) {
                // A failure of one step must not kill the device thread: fail what was running.
                log.error("device step failed", t);
                for (Sequence s : active) s.fail(t);
                active.clear();
            }
            running = active.size();
        }
        for (Sequence s : active) s.abort("shutdown");
        for (Sequence s; (s = waiting.poll()) != null; ) s.abort("shutdown");
    }

    private void admit(Sequence s) {
        s.admittedNanos = System.nanoTime();
        s.admitted();
        active.add(s);
    }

    private void iteration() {
        // a mixture takes one row per component; everything else one row
        for (Sequence s; (s = waiting.peek()) != null && activeRows() + s.rows() <= maxRunning; ) admit(waiting.poll());
        running = active.size();
        long now = System.nanoTime();
        active.removeIf(s -> {
            if (s.cancelled()) {
                s.abort("cancelled");
                return true;
            }
            if (now > s.deadlineNanos) {
                s.fail(new EngramException(ProblemType.TIMEOUT, "the request exceeded engram.scheduler.request-timeout", 5L));
                return true;
            }
            return false;
        });
        prefill();
        decodeStep();
    }

    private int activeRows() {
        int n = 0;
        for (Sequence s : active) n += s.rows();
        return n;
    }

    /**
     * While others decode, one iteration's prefill takes about this many decode steps' time. With chunks read in
     * passes of their own (models without a mixed step, or {@code -Dengram.scheduler.mixed-steps=false}), an 8k-token
     * prime gave a single stream's ITL p99 at 3.0x, 2.4x and 2.3x its p99 alone for 1.5, 1.0 and 0.5: such a pass
     * costs at least a decode step's read of the weights whatever its budget. A riding input (a mixed step) pays
     * only for its compute, so the share is what it adds (docs/PERFORMANCE.md, "Concurrent streams").
     */
    static final double PREFILL_SHARE = 0.5;
    /** Prompts at most this long are read whole in one iteration, ahead of a long document's next chunk. */
    private static final int SHORT_PREFILL = 64;
    /**
     * Inputs with at most this many tokens left join the batched decode step, one token per step, instead of a
     * prefill chunk of their own: in a memory-bound step the extra rows are nearly free.
     */
    static final int STEP_PREFILL = 8;

    /**
     * Reads input for sequences still reading, within a token budget: short prompts first (whole, first come first
     * served), so a new stream is not stuck behind a long document, then the oldest long input gets the rest of the
     * budget (always at least a few tokens, so it keeps moving).
     */
    private void prefill() {
        boolean othersDecode = false;
        List<Sequence> reading = new ArrayList<>();
        for (Sequence a : active) {
            if (a.prefilled()) othersDecode = true;
            else if (a.remaining() > STEP_PREFILL && a.mixture() == null) reading.add(a);
        }
        if (reading.isEmpty()) return;
        int budget = chunkTokens;
        if (othersDecode && decodeStepMs > 0) {
            // about half a decode step's worth of prefill, so streams keep their pace while a long document is read
            budget = (int) Math.max(8, Math.min(chunkTokens, PREFILL_SHARE * decodeStepMs / prefillMsPerToken));
        }
        List<Sequence> shorts = new ArrayList<>();
        for (Sequence s : reading) {
            if (s.remaining() <= SHORT_PREFILL && (budget >= s.remaining() || s == reading.get(0))) {
                shorts.add(s);
                budget -= s.remaining();
            }
        }
        readWhole(shorts);
        for (Sequence s : reading) {
            if (!s.prefilled() && active.contains(s)) {     // a read that failed above took s out of the batch
                if (othersDecode && MIXED_STEPS && s.model.mixesSteps()) {
                    // rides along in the decode step: no pass of its own; now and then (and for a batch size not
                    // seen yet) one step without it, to measure what the decode rows cost alone
                    int rows = decodeRows();
                    if (pureMs(rows) > 0 && steps % REMEASURE != 0 || notRidden >= 2) {
                        rider = s;
                        riderTokens = Math.min(s.remaining(), riderBudget(rows));
                        notRidden = 0;
                    } else {
                        notRidden++;                        // the prime always moves: at most two steps in a row
                    }
                } else {
                    read(s, Math.min(s.remaining(), Math.max(8, budget)));
                }
                return;
            }
        }
    }

    /**
     * Tokens a riding input reads in a step of {@code rows} decode rows: as many as add {@link #PREFILL_SHARE} of
     * that step's time alone, from the measured cost of a riding token ({@link #STEP_PREFILL} until measured), and
     * no more than the rows a pass takes.
     */
    private int riderBudget(int rows) {
        int room = Math.max(1, chunkTokens - rows);
        if (riderMsPerToken <= 0 || pureMs(rows) <= 0) return Math.min(room, STEP_PREFILL);
        return (int) Math.max(1, Math.min(room, PREFILL_SHARE * pureMs(rows) / riderMsPerToken));
    }

    /** Rows of the coming decode step: decoding sequences, and inputs short enough to ride one token a step. */
    private int decodeRows() {
        int n = 0;
        for (Sequence a : active) {
            if (a.prefilled() || a.remaining() <= STEP_PREFILL || a.mixture() != null) n += a.rows();
        }
        return n;
    }

    private double pureMs(int rows) {
        return rows < pureStepMs.length ? pureStepMs[rows] : 0;
    }

    /**
     * Reads the whole input of each of {@code batch} (short prompts). Those of one model that shares a pass over
     * its weights between sequences ({@link LanguageModel#mixesSteps}) are read in one mixed pass, each prompt a
     * segment of its own, instead of one pass each: 16 streams arriving together cost one read of the weights,
     * not 16, before their first tokens.
     */
    private void readWhole(List<Sequence> batch) {
        Map<LanguageModel, List<Sequence>> byModel = new IdentityHashMap<>();
        for (Sequence s : batch) byModel.computeIfAbsent(s.model, m -> new ArrayList<>()).add(s);
        for (Map.Entry<LanguageModel, List<Sequence>> e : byModel.entrySet()) {
            List<Sequence> group = e.getValue();
            int total = 0;
            for (Sequence s : group) total += s.remaining();
            if (group.size() < 2 || !MIXED_STEPS || !e.getKey().mixesSteps() || total > chunkTokens) {
                for (Sequence s : group) read(s, s.remaining());
                continue;
            }
            List<ModelState> states = new ArrayList<>(group.size());
            int[] tokens = new int[total], counts = new int[group.size()];
            boolean[] want = new boolean[group.size()];
            for (int i = 0, at = 0; i < group.size(); i++) {
                Sequence s = group.get(i);
                states.add(s.state);
                counts[i] = s.remaining();
                want[i] = s.needsLogits();
                System.arraycopy(s.input, s.read, tokens, at, counts[i]);
                at += counts[i];
            }
            long t0 = System.nanoTime();
            float[][] logits;
            try {
                logits = e.getKey().stepMixed(states, tokens, counts, want);
            } catch (RuntimeException ex) {
                for (Sequence s : group) {
                    active.remove(s);
                    s.fail(ex);
                }
                continue;
            }
            groupedPrefills++;
            for (int i = 0; i < group.size(); i++) {
                Sequence s = group.get(i);
                s.read += counts[i];
                inputRead(s, logits[i]);
            }
            if (total >= 8) prefillMsPerToken = 0.8 * prefillMsPerToken + 0.2 * ((System.nanoTime() - t0) / 1e6 / total);
        }
    }

    /** s has read its whole input: keeps the logits after its last token (if any), and drops s if it is done. */
    private void inputRead(Sequence s, float[] logits) {
        if (logits != null) s.logits = logits;
        if (!s.prefillDone()) active.remove(s);
    }

    /** Reads the next n input tokens of s; returns n. */
    private int read(Sequence s, int n) {
        boolean last = n == s.remaining();
        long t0 = System.nanoTime();
        try {
            float[] logits = s.model.forward(s.state, Arrays.copyOfRange(s.input, s.read, s.read + n), last && s.needsLogits());
            s.read += n;
            if (last) inputRead(s, logits);
        } catch (RuntimeException e) {
            active.remove(s);
            s.fail(e);
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        if (n >= 8) prefillMsPerToken = 0.8 * prefillMsPerToken + 0.2 * (ms / n);
        return n;
    }

    private void decodeStep() {
        // sampling is per sequence and independent: choose every decoding sequence's token in parallel first
        List<Sequence> deciding = new ArrayList<>(active.size());
        for (Sequence s : active) if (s.prefilled()) deciding.add(s);
        CpuTeam.forRange(deciding.size(), 1, (from, to) -> {
            for (int i = from; i < to; i++) deciding.get(i).prepareNext();
        });
        Map<LanguageModel, List<Sequence>> byModel = new IdentityHashMap<>();
        for (Sequence s : new ArrayList<>(active)) {
            int token;
            if (!s.prefilled()) {
                // a mixture reads its prompt here, token by token, to score every token under every component
                if (s.remaining() > STEP_PREFILL && s.mixture() == null) continue;
                token = s.input[s.read];                      // still reading: its next input token rides along
                if (s.mixture() != null) s.mixture().observe(token);
            } else {
                try {
                    token = s.next();
                } catch (RuntimeException e) {
                    active.remove(s);
                    s.fail(e);
                    continue;
                }
                if (token < 0) {
                    active.remove(s);
                    continue;
                }
            }
            s.pendingToken = token;
            byModel.computeIfAbsent(s.model, m -> new ArrayList<>()).add(s);
        }
        Sequence riding = rider;
        int ridingTokens = riderTokens;
        rider = null;
        if (riding != null && (!active.contains(riding) || !byModel.containsKey(riding.model))) {
            if (active.contains(riding)) read(riding, ridingTokens);   // no decode rows of its model to ride with
            riding = null;
        }
        if (byModel.isEmpty()) return;
        int stepRows = 0;
        for (List<Sequence> b : byModel.values()) for (Sequence q : b) stepRows += q.rows();
        steps++;
        long t0 = System.nanoTime();
        for (Map.Entry<LanguageModel, List<Sequence>> e : byModel.entrySet()) {
            List<Sequence> batch = e.getValue();
            List<ModelState> states = new ArrayList<>(batch.size());
            int rows = 0;
            for (Sequence s : batch) rows += s.rows();
            int[] tokens = new int[rows];
            int[] firstRow = new int[batch.size()];
            for (int i = 0, r = 0; i < batch.size(); i++) {
                Sequence s = batch.get(i);
                firstRow[i] = r;
                if (s.mixture() == null) {
                    states.add(s.state);
                    tokens[r++] = s.pendingToken;
                } else {
                    for (ModelState c : s.mixture().states()) {   // every component reads the same token
                        states.add(c);
                        tokens[r++] = s.pendingToken;
                    }
                }
            }
            float[][] logits;
            boolean mixed = riding != null && riding.model == e.getKey();
            try {
                if (mixed) {
                    logits = stepWithRider(e.getKey(), states, tokens, riding, ridingTokens);
                    mixedSteps++;
                } else {
                    logits = e.getKey().step(states, tokens);
                }
            } catch (RuntimeException ex) {
                for (Sequence s : batch) {
                    active.remove(s);
                    s.fail(ex);
                }
                if (mixed) {
                    active.remove(riding);
                    riding.fail(ex);
                    riding = null;
                }
                continue;
            }
            for (int i = 0; i < batch.size(); i++) {
                Sequence s = batch.get(i);
                if (s.mixture() == null) {
                    s.logits = logits[firstRow[i]];
                } else {
                    s.mixture().stepped(Arrays.copyOfRange(logits, firstRow[i], firstRow[i] + s.rows()));
                    s.logits = s.mixture().mixtureLogits();
                }
                if (!s.prefilled()) {
                    s.read++;
                    if (s.prefilled() && !s.prefillDone()) active.remove(s);
                } else if (!s.fed()) {
                    active.remove(s);
                }
            }
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        if (riding != null) {
            if (pureMs(stepRows) > 0) {
                double perToken = Math.max(0.01, (ms - pureMs(stepRows)) / ridingTokens);
                riderMsPerToken = riderMsPerToken == 0 ? perToken : 0.8 * riderMsPerToken + 0.2 * perToken;
            }
        } else {
            decodeStepMs = decodeStepMs == 0 ? ms : 0.8 * decodeStepMs + 0.2 * ms;
            if (stepRows < pureStepMs.length) {              // (a lone mixture wider than max-running is not kept)
                pureStepMs[stepRows] = pureStepMs[stepRows] == 0 ? ms : 0.8 * pureStepMs[stepRows] + 0.2 * ms;
            }
        }
    }

    /**
     * The decode step of one model with {@code n} input tokens of {@code r} riding along (one mixed pass); returns
     * the decode rows' logits and advances {@code r} as {@link #read} would.
     */
    private float[][] stepWithRider(LanguageModel model, List<ModelState> states, int[] tokens, Sequence r, int n) {
        boolean last = n == r.remaining();
        List<ModelState> all = new ArrayList<>(states);
        all.add(r.state);
        int[] allTokens = Arrays.copyOf(tokens, tokens.length + n);
        System.arraycopy(r.input, r.read, allTokens, tokens.length, n);
        int[] counts = new int[all.size()];
        boolean[] want = new boolean[all.size()];
        Arrays.fill(counts, 1);
        Arrays.fill(want, true);
        counts[states.size()] = n;
        want[states.size()] = last && r.needsLogits();
        float[][] out = model.stepMixed(all, allTokens, counts, want);
        r.read += n;
        if (last) inputRead(r, out[states.size()]);
        return Arrays.copyOf(out, states.size());
    }

    @Override
    public void destroy() throws InterruptedException {
        stopping = true;
        thread.join(10_000);
    }
}
