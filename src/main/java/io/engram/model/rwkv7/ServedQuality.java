package io.engram.model.rwkv7;

import ai.djl.Device;
import io.engram.model.ModelState;
import io.engram.weights.ServeDtype;

/**
 * How far a served format's decode logits are from float32's: feed a prompt token by token (the decode kernels),
 * then let float32 generate greedily for {@code steps} tokens and feed the same tokens to the served model
 * (teacher forcing, so one early disagreement does not decide every later one). Every step's logits are compared.
 */
public final class ServedQuality {

    /**
     * @param maxAbs     the largest |served - fp32| logit over all steps
     * @param meanAbs    the mean |served - fp32| logit
     * @param logitRange the largest |fp32 logit| seen, for scale
     * @param agreement  the fraction of generated steps whose greedy token is the same
     */
    public record Result(ServeDtype dtype, int steps, double maxAbs, double meanAbs, double logitRange, double agreement) {}

    private ServedQuality() {}

    public static Result measure(Rwkv7Weights w, ServeDtype dtype, int[] prompt, int steps) {
        try (Rwkv7Model ref = new Rwkv7Model(w, Device.cpu(), 64, true, ServeDtype.FLOAT32);
             Rwkv7Model got = new Rwkv7Model(w, Device.cpu(), 64, true, dtype)) {
            ModelState rs = ref.zeroState(), gs = got.zeroState();
            float[] rl = null, gl = null;
            double max = 0, sum = 0, range = 0;
            long n = 0;
            int agree = 0;
            for (int i = 0; i < prompt.length + steps; i++) {
                int tok = i < prompt.length ? prompt[i] : argmax(rl);
                if (i >= prompt.length && argmax(gl) == tok) agree++;
                rl = ref.forward(rs, new int[] {tok}, true);
                gl = got.forward(gs, new int[] {tok}, true);
                for (int j = 0; j < rl.length; j++) {
                    double d = Math.abs(gl[j] - rl[j]);
                    max = Math.max(max, d);
                    range = Math.max(range, Math.abs(rl[j]));
                    sum += d;
                }
                n += rl.length;
            }
            return new Result(dtype, steps, max, sum / n, range, steps == 0 ? 1 : agree / (double) steps);
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }
}
