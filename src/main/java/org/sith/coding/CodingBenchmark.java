package org.sith.coding;

import java.util.Random;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Throughput of batched COMP against the sgemm roofline of the same call, with the time per
 * greedy step split into sgemm / argmax scan / the rest. Args: n p batch k (defaults 50000 768
 * 512 5). Roofline and COMP are measured in alternating rounds and the best of each kept, so
 * that load from other processes hits both alike. Prints figures only.
 */
public final class CodingBenchmark {
    private CodingBenchmark() {}

    private static final int ROUNDS = 3;

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 50000;
        int p = args.length > 1 ? Integer.parseInt(args[1]) : 768;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int k = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        Random rnd = new Random(42);
        float[] atoms = new float[n * p];
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int c = 0; c < p; c++) {
                float v = (float) rnd.nextGaussian();
                atoms[j * p + c] = v;
                s += v * v;
            }
            float inv = (float) (1 / Math.sqrt(s));
            for (int c = 0; c < p; c++) atoms[j * p + c] *= inv;
        }
        System.out.printf("dictionary %d x %d, k=%d, cores=%d, COMP lambda=0.5%n", n, p, k,
                Runtime.getRuntime().availableProcessors());
        SparseCoder coder = new SparseCoder(atoms, n, p);
        INDArray dict = Nd4j.create(atoms, new long[] {n, p}, DataType.FLOAT);
        int total = Math.max(batch, 512);                 // same vectors for every chunk size
        double[][] xs = new double[total][p];
        for (double[] x : xs) for (int c = 0; c < p; c++) x[c] = rnd.nextGaussian();
        int[] sizes = batch == 512 || batch == 256 || batch == 64 ? new int[] {64, 256, 512} : new int[] {64, 256, 512, batch};
        double roofAtBatch = 0;
        for (int b : sizes) {
            coder.setMaxBatchRows(b);
            coder.code(xs, Method.COMP, k, 0.5);             // warm-up (JIT, workspaces)
            double roof = 0, bestSeconds = Double.MAX_VALUE;
            long[] bestPhases = null;
            for (int round = 0; round < ROUNDS; round++) {
                roof = Math.max(roof, roofline(dict, b, n, p));
                java.util.Arrays.fill(coder.phaseNanos, 0);
                long t0 = System.nanoTime();
                coder.code(xs, Method.COMP, k, 0.5);
                double sec = (System.nanoTime() - t0) / 1e9;
                if (sec < bestSeconds) {
                    bestSeconds = sec;
                    bestPhases = coder.phaseNanos.clone();
                }
            }
            if (b == batch) roofAtBatch = roof;
            double steps = (double) k * ((total + b - 1) / b);
            double gflops = 2.0 * total * p * n * k / bestSeconds / 1e9;
            double gemmMs = bestPhases[0] / 1e6 / steps, scanMs = bestPhases[1] / 1e6 / steps;
            double otherMs = (bestPhases[2] - bestPhases[0] - bestPhases[1]) / 1e6 / steps;
            System.out.printf("sgemm roofline rows=%4d: %6.1f GFLOP/s%n", b, roof);
            System.out.printf("COMP  rows=%4d: %7.1f vectors/s %6.1f GFLOP/s = %5.1f %% of roofline(%d rows)"
                    + "   per step: sgemm %6.1f ms (%5.1f GFLOP/s), scan %5.1f ms, rest %5.1f ms%n",
                    b, total / bestSeconds, gflops, 100 * gflops / roof, b,
                    gemmMs, 2.0 * b * p * n / (gemmMs * 1e6), scanMs, otherMs);
        }
        if (roofAtBatch > 0) System.out.printf("(roofline at the %d-row batch: %.1f GFLOP/s)%n", batch, roofAtBatch);
    }

    /** Best GFLOP/s of rows x p times (n x p)^T through the coder's own gemm call. */
    private static double roofline(INDArray dict, int rows, int n, int p) {
        INDArray a = Nd4j.rand(DataType.FLOAT, rows, p);
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, n}, 'f');
        Nd4j.gemm(a, dict, out, false, true, 1.0, 0.0);
        double best = Double.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            long t0 = System.nanoTime();
            Nd4j.gemm(a, dict, out, false, true, 1.0, 0.0);
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return 2.0 * rows * p * n / best / 1e9;
    }
}
