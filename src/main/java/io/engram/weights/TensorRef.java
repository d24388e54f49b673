package io.engram.weights;

/**
 * A tensor as {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)} describes it: element
 * {@code [i0, i1, ...]} is storage element {@code offset + i0*stride[0] + i1*stride[1] + ...}. Strides may be
 * non-contiguous (transposes, slices) or zero (expanded views); several tensors may share a storage.
 */
record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
}
