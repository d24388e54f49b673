package io.engram.inference;

import java.util.Random;

/**
 * Rough timing of {@link Sampler#sample(float[])} on a 65,536-entry vocabulary. Not a test (the
 * name keeps Surefire away); run after {@code mvn -o test-compile} with
 * {@code java -cp target/classes:target/test-classes io.engram.inference.SamplerBenchmark [index]};
 * an index runs one configuration alone (a fresh JVM per configuration avoids JIT cross-talk).
 */
public final class SamplerBenchmark {

    private SamplerBenchmark() {
    }

    public static void main(String[] args) {
        int vocab = 65_536;
        Random r = new Random(1);
        float[][] logits = new float[16][vocab];
        for (float[] l : logits) {
            for (int i = 0; i < vocab; i++) {
                l[i] = (float) (r.nextGaussian() * 3.0);
            }
        }
        Object[][] configs = {
                {"greedy", SamplingParams.greedy()},
                {"greedy + logprobs=20", new SamplingParams(0, 1, 0, 0, 0, 0, 1L, 20)},
                {"temperature=1 (no truncation)", new SamplingParams(1, 1, 0, 0, 0, 0, 1L, 0)},
                {"top_k=50", new SamplingParams(0.8, 1, 50, 0, 0, 0, 1L, 0)},
                {"top_p=0.9 (no top_k)", new SamplingParams(0.8, 0.9, 0, 0, 0, 0, 1L, 0)},
                {"min_p=0.05", new SamplingParams(0.8, 1, 0, 0.05, 0, 0, 1L, 0)},
                {"top_k=40+top_p=0.95+min_p+penalties+logprobs=5",
                        new SamplingParams(0.8, 0.95, 40, 0.05, 0.5, 0.5, 1L, 5)},
        };
        int warmup = 3000;
        int measured = 5000;
        for (int ci = 0; ci < configs.length; ci++) {
            if (args.length > 0 && Integer.parseInt(args[0]) != ci) {
                continue;
            }
            Object[] c = configs[ci];
            Sampler s = new Sampler((SamplingParams) c[1]);
            for (int i = 0; i < 200; i++) {
                s.accept(r.nextInt(vocab));
            }
            long sink = 0;
            for (int i = 0; i < warmup; i++) {
                sink += s.sample(logits[i & 15]).token();
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < measured; i++) {
                sink += s.sample(logits[i & 15]).token();
            }
            double us = (System.nanoTime() - t0) / 1e3 / measured;
            System.out.printf("%-50s %8.1f us/sample   (sink %d)%n", c[0], us, sink % 10);
        }
    }
}
