package io.engram.model;

import java.util.ArrayList;
import java.util.List;

/**
 * What generation continues from: a state and its next-token logits (the logits after the last token the state
 * read; null when unknown, e.g. the zero state, then a prompt must be read first). Combining memories combines
 * both halves with the same weights:
 * <pre>
 *   state  = combine_w(state_1 .. state_K)        the architecture's weighted mean ({@link LanguageModel#combine})
 *   logits = sum_i w_i logits_i                   known only when every part's logits are known
 * </pre>
 *
 * @param state  a private, mutable state (see {@link ModelState}); {@link #copy()} before sharing
 * @param logits next-token logits, or null
 */
public record Memory(ModelState state, float[] logits) {

    public Memory copy() {
        return new Memory(state.copy(), logits == null ? null : logits.clone());
    }

    /** The weighted mean of {@code parts} under normalised weights {@code w} (one per part). */
    public static Memory mean(LanguageModel model, List<Memory> parts, double[] w) {
        if (parts.isEmpty() || parts.size() != w.length) {
            throw new IllegalArgumentException(parts.size() + " memories for " + w.length + " weights");
        }
        List<ModelState> states = new ArrayList<>(parts.size());
        for (Memory m : parts) states.add(m.state());
        return new Memory(model.combine(states, w), meanLogits(parts, w));
    }

    private static float[] meanLogits(List<Memory> parts, double[] w) {
        for (Memory m : parts) if (m.logits() == null) return null;
        float[] out = new float[parts.get(0).logits().length];
        for (int i = 0; i < parts.size(); i++) {
            float[] l = parts.get(i).logits();
            for (int j = 0; j < out.length; j++) out[j] += (float) (w[i] * l[j]);
        }
        return out;
    }
}
