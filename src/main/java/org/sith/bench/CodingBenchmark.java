package org.sith.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

import org.sith.coding.Code;
import org.sith.coding.Scoring;
import org.sith.coding.SparseCoder;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;
import org.sith.run.Coding;

/**
 * The coding suite: the COMP product in f32 (OpenBLAS) and bf16 (oneDNN, dictionary prepacked), then
 * COMP on each scoring path as Spark runs it (one single-threaded task per core), their ratio, the
 * candidates re-scored, and a check that both paths selected the same atoms. Every rate is also given
 * against the f32 roofline measured in the same process.
 */
final class CodingBenchmark {
    private final Benchmark.PrintLine out;
    private final int n;
    private final int p;
    private final int batch;
    private final int cores = Runtime.getRuntime().availableProcessors();

    CodingBenchmark(Benchmark.PrintLine out, int n, int p, int batch) {
        this.out = out;
        this.n = n;
        this.p = p;
        this.batch = batch;
    }

    /** Machine, libraries and the ISA oneDNN dispatches: printed with every set of figures. */
    static String machine() {
        String omp = System.getenv("OMP_NUM_THREADS");
        return String.format(Locale.ROOT, "%d cores (%s), Java %s, OpenBLAS threads %d, oneDNN %s ISA %s%s, OMP_NUM_THREADS=%s",
                Runtime.getRuntime().availableProcessors(), cpuName(), System.getProperty("java.version"), Gemm.blasThreads(),
                OneDnn.version(), OneDnn.isaName(), OneDnn.hasAmx() ? " (AMX)" : " (no AMX)", omp == null ? "unset" : omp);
    }

    private static String cpuName() {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim();
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux: the name is only informative
        }
        return System.getProperty("os.arch");
    }

    /** Aggregate GFLOP/s of the bf16 product with `slots` concurrent products (one per task), best of 5 rounds. */
    double bf16Product(float[] dict, int slots) throws InterruptedException {
        if (OneDnn.unavailable() != null) {
            out.line("bf16 product        unavailable: " + OneDnn.unavailable());
            return 0;
        }
        OneDnn.PackedB packed = new OneDnn.PackedB(Gemm.matrix(dict, n, p).pointer(), n, p, batch);
        OneDnn.Product[] pr = new OneDnn.Product[slots];
        short[] q = new short[batch * p];
        float[] x = Benchmark.unitRows(new Random(2), batch, p);
        for (int i = 0; i < q.length; i++) q[i] = OneDnn.bf16(x[i]);
        for (int s = 0; s < slots; s++) {
            pr[s] = new OneDnn.Product(packed);
            pr[s].input().put(q);
            pr[s].run(batch);
        }
        double best = bestGflops(slots, 3, s -> pr[s].run(batch));
        out.line(String.format(Locale.ROOT, "bf16 product        %d×%d · %d×%d (oneDNN %s, prepacked once, %d MB), %d task(s) × 1 thread: %.0f GFLOP/s",
                batch, p, p, n, packed.implementation(), packed.bytes() >> 20, slots, best));
        return best;
    }

    /**
     * Best aggregate GFLOP/s over 5 rounds of `slots` concurrent threads, thread s running `product.run(s)`
     * `repeats` times; each run is one batch×p · p×N product.
     */
    private double bestGflops(int slots, int repeats, java.util.function.IntConsumer product) throws InterruptedException {
        double best = 0;
        for (int round = 0; round < 5; round++) {
            Thread[] ts = new Thread[slots];
            long t = System.nanoTime();
            for (int s = 0; s < slots; s++) {
                int slot = s;
                ts[s] = new Thread(() -> {
                    for (int r = 0; r < repeats; r++) product.accept(slot);
                });
                ts[s].start();
            }
            for (Thread th : ts) th.join();
            best = Math.max(best, (double) repeats * slots * 2.0 * batch * p * n / ((System.nanoTime() - t) / 1e9) / 1e9);
        }
        return best;
    }

    /** f32 sgemm with `slots` concurrent single-threaded products, best of 5 rounds. */
    double f32Product(float[] dict, int slots) throws InterruptedException {
        Gemm.Matrix d = Gemm.matrix(dict, n, p);
        Gemm.Matrix x = Gemm.matrix(Benchmark.unitRows(new Random(2), batch, p), batch, p);
        Gemm.Matrix[] o = new Gemm.Matrix[slots];
        for (int s = 0; s < slots; s++) o[s] = new Gemm.Matrix(batch, n);
        Gemm.setBlasThreads(1);
        double best = bestGflops(slots, 1, s -> Gemm.sgemm(true, x.pointer(), p, d.pointer(), p, o[s].pointer(), n, batch, n, p));
        Gemm.setBlasThreads(cores);
        out.line(String.format(Locale.ROOT, "f32 product         %d×%d · %d×%d (OpenBLAS cblas_sgemm), %d task(s) × 1 thread: %.0f GFLOP/s",
                batch, p, p, n, slots, best));
        return best;
    }

    /** COMP timings of one path, and its codes (for the identity check). */
    record Run(double vectorsPerSecond, Code[] codes, double rescoredPerChoice, double rescoredShare) {}

    /** COMP of `x` as `slots` concurrent single-threaded tasks on one scoring path. */
    Run comp(float[] dict, double[][] x, int k, Scoring scoring, int slots) throws InterruptedException {
        SparseCoder base = new SparseCoder(dict, n, p, scoring);
        base.setMaxBatchRows(batch);
        base.setRowThreads(1);
        Gemm.setBlasThreads(1);
        base.code(Arrays.copyOf(x, Math.min(x.length, batch)), Coding.DEFAULT_METHOD, k, Coding.DEFAULT_LAMBDA); // warm-up, packing
        SparseCoder[] coders = new SparseCoder[slots];
        for (int s = 0; s < slots; s++) {
            coders[s] = s == 0 ? base : new SparseCoder(base);
            coders[s].setRowThreads(1);
        }
        long choices0 = base.choices(), rescored0 = base.rescoredAtoms(), rows0 = base.rescoredChoices();
        Code[] codes = new Code[x.length];
        Thread[] ts = new Thread[slots];
        long t = System.nanoTime();
        for (int s = 0; s < slots; s++) {
            int from = s * x.length / slots, to = (s + 1) * x.length / slots;
            SparseCoder c = coders[s];
            ts[s] = new Thread(() -> System.arraycopy(c.code(Arrays.copyOfRange(x, from, to), Coding.DEFAULT_METHOD, k, Coding.DEFAULT_LAMBDA),
                    0, codes, from, to - from));
            ts[s].start();
        }
        for (Thread th : ts) th.join();
        double sec = (System.nanoTime() - t) / 1e9;
        Gemm.setBlasThreads(cores);
        long choices = -choices0, rescored = -rescored0, rows = -rows0;
        for (SparseCoder c : coders) {
            choices += c.choices();
            rescored += c.rescoredAtoms();
            rows += c.rescoredChoices();
        }
        return new Run(x.length / sec, codes, (double) rescored / Math.max(1, choices), (double) rows / Math.max(1, choices));
    }

    /** The suite; returns the f32 roofline (GFLOP/s, all cores) the other suites compare against. */
    double run(float[] dict, int vectors, int k) throws InterruptedException {
        double f32 = f32Product(dict, cores);
        double bf16 = bf16Product(dict, cores);
        if (bf16 > 0) out.line(String.format(Locale.ROOT, "bf16 / f32 product  %.2f×", bf16 / f32));
        Random rnd = new Random(3);
        double[][] x = new double[vectors][p];
        for (double[] row : x) for (int j = 0; j < p; j++) row[j] = rnd.nextGaussian();
        double flopsPerVector = (double) k * 2.0 * p * n;
        double rooflineRate = f32 * 1e9 / flopsPerVector;
        Run a = comp(dict, x, k, Scoring.FP32, cores);
        out.line(String.format(Locale.ROOT, "COMP fp32           %d vectors, K=%d, %d rows/product, %d task(s) × 1 thread: %.0f vectors/s = %.2f × the f32 roofline's rate (%.0f/s); re-scored %.2f atoms per choice",
                vectors, k, batch, cores, a.vectorsPerSecond, a.vectorsPerSecond / rooflineRate, rooflineRate, a.rescoredPerChoice));
        if (OneDnn.unavailable() == null) {
            Run b = comp(dict, x, k, Scoring.BF16, cores);
            int differ = 0;
            for (int i = 0; i < x.length; i++) {
                if (!Arrays.equals(a.codes[i].ids(), b.codes[i].ids()) || !Arrays.equals(a.codes[i].weights(), b.codes[i].weights())) differ++;
            }
            out.line(String.format(Locale.ROOT, "COMP bf16           %d vectors, K=%d, %d rows/product, %d task(s) × 1 thread: %.0f vectors/s = %.2f × the f32 roofline's rate; re-scored %.2f atoms per choice (%.0f %% of choices had more than one candidate)",
                    vectors, k, batch, cores, b.vectorsPerSecond, b.vectorsPerSecond / rooflineRate, b.rescoredPerChoice, 100 * b.rescoredShare));
            out.line(String.format(Locale.ROOT, "COMP bf16 / fp32    %.2f× (same process); selections and weights identical on both paths: %s",
                    b.vectorsPerSecond / a.vectorsPerSecond, differ == 0 ? "yes" : "NO, " + differ + " of " + x.length + " differ"));
        }
        return f32;
    }
}
