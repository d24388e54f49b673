package io.engram.state;

import io.engram.model.Memory;
import io.engram.model.ModelState;

/**
 * A state as kept by a {@link StateStore}: its metadata, the tensors, and the next-token logits after the last
 * token it read (so generation can continue straight from it with no prompt; null for a combined state whose
 * components lacked them).
 */
public record StoredState(StateMeta meta, ModelState state, float[] lastLogits) {

    public StoredState(StateMeta meta, Memory memory) {
        this(meta, memory.state(), memory.logits());
    }

    /** The state and its logits, as stored (not a copy). */
    public Memory memory() {
        return new Memory(state, lastLogits);
    }
}
