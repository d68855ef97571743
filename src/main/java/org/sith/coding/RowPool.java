package org.sith.coding;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Splits per-row work (the argmax scan, the refits) over threads. Between two sgemms the cores
 * would otherwise idle while one thread does ~10–20 % of a step's time. Rows are independent and
 * each is handled whole by one thread, so results never depend on the split.
 */
final class RowPool {
    /** Below this much work (scores scanned, or vector entries touched) one thread is faster. */
    private static final long MIN_PARALLEL_WORK = 1L << 18;

    interface Range {
        void run(int from, int to);
    }

    private static ExecutorService shared;

    private final int threads;

    RowPool(int threads) {
        this.threads = Math.max(1, threads);
    }

    private static synchronized ExecutorService executor() {
        if (shared == null) {
            shared = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "sith-coding-rows");
                t.setDaemon(true);
                return t;
            });
        }
        return shared;
    }

    /** Runs body over [0, rows) in contiguous parts; workPerRow sizes the split. */
    void run(int rows, long workPerRow, Range body) {
        int parts = (int) Math.min(Math.min(threads, rows), rows * workPerRow / MIN_PARALLEL_WORK);
        if (parts <= 1) {
            body.run(0, rows);
            return;
        }
        Future<?>[] pending = new Future<?>[parts - 1];
        for (int part = 1; part < parts; part++) {
            int from = (int) ((long) rows * part / parts), to = (int) ((long) rows * (part + 1) / parts);
            pending[part - 1] = executor().submit(() -> body.run(from, to));
        }
        body.run(0, rows / parts);
        try {
            for (Future<?> f : pending) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while coding", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }
}
