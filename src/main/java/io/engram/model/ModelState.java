package io.engram.model;

import java.util.List;

/**
 * What a recurrent model holds after reading some tokens: a fixed-size summary that does not grow with the input.
 * Implementations are typed per architecture and mutable (a forward pass advances them in place); {@link #copy()}
 * before sharing. A state never holds native memory.
 */
public interface ModelState {

    /** The architecture this state belongs to, e.g. {@code rwkv7}. */
    String architecture();

    /** The state's tensors in a fixed canonical order. The arrays are live views, not copies. */
    List<StateTensor> tensors();

    /**
     * Position of the next token, i.e. the number of tokens this state has read. Architectures whose state does
     * not depend on position still count it.
     */
    long position();

    /** A deep copy. */
    ModelState copy();

    /** Size in bytes of the state's tensors (float32). */
    default long byteSize() {
        long n = 0;
        for (StateTensor t : tensors()) n += 4L * t.data().length;
        return n;
    }
}
