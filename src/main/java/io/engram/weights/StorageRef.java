package io.engram.weights;

/**
 * A torch storage named by a pickle persistent id {@code ('storage', torch.<Type>Storage, key, location, numel)}:
 * its bytes are the zip entry {@code <stem>/data/<key>}, holding {@code numel} elements of {@code dtype}.
 */
record StorageRef(String key, WeightDType dtype, String location, long numel) {
}
