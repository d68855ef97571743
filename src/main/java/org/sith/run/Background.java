package org.sith.run;

import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Driver-side work that runs beside the main thread while a job prepares: fingerprints of its inputs, a
 * pseudo-inverse. The main thread's preparation (loading and centering the dictionary, broadcasting it) is
 * single-threaded and Spark's executors are idle until the first job, so on a two-core driver this shortens
 * the critical path by what runs here. Daemon threads; a failure is rethrown, as it was, where its result is
 * taken ({@link #await}); closing cancels what is still running (the job failed before it needed it).
 */
public final class Background implements AutoCloseable {
    private final ExecutorService pool;

    private Background(ExecutorService pool) {
        this.pool = pool;
    }

    /** One thread per spare core of the driver, at least one and at most two. */
    public static Background start(String name) {
        int threads = Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors() - 1));
        AtomicInteger n = new AtomicInteger();
        return new Background(Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        }));
    }

    public <T> Future<T> submit(Callable<T> work) {
        return pool.submit(work);
    }

    /** The result of {@code f}, waiting for it; what it threw is rethrown unwrapped (a UserInputException stays one). */
    public static <T> T await(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for background work", e);
        } catch (CancellationException e) {
            throw new IllegalStateException("background work was cancelled", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) throw r;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException(cause.getMessage(), cause);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
