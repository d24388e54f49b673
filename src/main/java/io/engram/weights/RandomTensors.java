package io.engram.weights;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Deterministic random tensors for checkpoints written from a seed (the demo and benchmark models, test shapes,
 * training's initialisation). Each draw consumes the generator in a fixed order, so one seed always gives the
 * same checkpoint.
 */
public final class RandomTensors {

    private RandomTensors() {}

    /** Puts a float32 tensor {@code name} of {@code shape} holding {@code data} into {@code t}. */
    public static void put(Map<String, HostTensor> t, String name, float[] data, long... shape) {
        t.put(name, HostTensor.ofFloats(name, shape, data));
    }

    /** n copies of v. */
    public static float[] fill(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    /** n draws from U(lo, hi). */
    public static float[] uniform(SplittableRandom r, long n, double lo, double hi) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    /** n draws from N(0, std²). */
    public static float[] normal(SplittableRandom r, long n, double std) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            // Box-Muller on two uniforms: SplittableRandom has no nextGaussian in Java 17
            double u = 1.0 - r.nextDouble(), w = r.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
        }
        return a;
    }
}
