package org.sith.run;

import java.util.Locale;

import org.apache.spark.util.LongAccumulator;

/** Prints "heads done / total, rate, ETA" on stderr while a job runs (tasks bump an accumulator). */
public final class Progress implements AutoCloseable {
    private final String what;
    private final long total;
    private final long offset;
    private final LongAccumulator counter;
    private final long start = System.nanoTime();
    private final Thread thread;
    private volatile boolean done;
    private long lastPrinted = 0; // nothing to say before the first task ends
    private volatile boolean succeeded;

    public Progress(String command, String what, long total, long alreadyDone, LongAccumulator counter) {
        this.what = command + ": " + what;
        this.total = total;
        this.offset = alreadyDone;
        this.counter = counter;
        this.thread = new Thread(this::loop, "sith-progress");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void loop() {
        while (!done) {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                return;
            }
            print(false);
        }
    }

    private synchronized void print(boolean last) {
        long n = counter.value();
        if (n == lastPrinted && !last) return;
        lastPrinted = n;
        double secs = (System.nanoTime() - start) / 1e9;
        double rate = secs > 0 ? n / secs : 0;
        long left = total - offset - n;
        String eta = rate > 0 && left > 0 ? String.format(Locale.ROOT, ", ETA %.0f s", left / rate) : "";
        System.err.printf(Locale.ROOT, "%s %d/%d done (%.1f/s%s)%n", what, offset + n, total, rate, eta);
    }

    /** Marks the work complete: the closing line is printed only then (a failure has its own message). */
    public void succeeded() {
        succeeded = true;
    }

    @Override
    public void close() {
        done = true;
        thread.interrupt();
        if (succeeded) print(true);
    }
}
