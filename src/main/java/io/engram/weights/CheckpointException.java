package io.engram.weights;

/**
 * Thrown when a checkpoint cannot be read: a missing or malformed file, a tensor that is absent or has the wrong
 * shape, or a pickle that tries to do more than describe tensors. The message names the file and, when known, the
 * tensor.
 */
public final class CheckpointException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
