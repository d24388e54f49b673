package io.engram.model.ops;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;

/**
 * Off-heap memory for {@link ServedMatrix} weights, allocated by libtorch: each buffer is a direct view of an int8
 * tensor's storage under one NDManager. Unlike {@link ByteBuffer#allocateDirect} it is not capped by
 * {@code -XX:MaxDirectMemorySize} (which defaults to the heap size, so a 3 GB model could not load beside a 2 GB
 * heap), and it is freed when {@link #close} closes the manager. The buffers must not be used after that.
 */
public final class LibtorchMemory implements ServedMatrix.NativeMemory, AutoCloseable {

    private final NDManager manager;
    private long bytes;

    public LibtorchMemory(NDManager parent) {
        manager = parent.newSubManager();
    }

    @Override
    public synchronized ByteBuffer allocate(int size) {
        NDArray storage = manager.zeros(new Shape(size), DataType.INT8);     // [size] bytes, 64-byte aligned
        ByteBuffer view = storage.toByteBuffer(true);
        if (!view.isDirect() || view.capacity() != size) {
            throw new IllegalStateException("libtorch gave no direct view of a " + size + "-byte tensor");
        }
        bytes += size;
        return view;
    }

    /** Bytes allocated so far. */
    public synchronized long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        manager.close();
    }
}
