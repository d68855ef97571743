package org.sith.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;

/** Runs racing for one output folder's claims, for the tests of each file system (local and HDFS here, s3a in S3aIT). */
public final class ClaimRaces {
    private ClaimRaces() {}

    public interface Fs {
        FileSystem get() throws Exception;
    }

    /** {@code threads} runs, each with its own file-system client, claim the same outputs at the same moment. */
    public static List<Object> race(Fs clients, Path out, int threads, WriteMode mode) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<Object>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String run = "run" + t;
            FileSystem client = clients.get();
            fs.add(pool.submit(() -> {
                start.await();
                try {
                    return OutputClaim.acquire(client, out, out.toString(), List.of("explanations", "singular_vectors"), "decompose", mode, run);
                } catch (UserInputException e) {
                    return e;
                }
            }));
        }
        List<Object> results = new ArrayList<>();
        for (Future<Object> f : fs) results.add(f.get(60, TimeUnit.SECONDS));
        pool.shutdown();
        return results;
    }

    public static void exactlyOneClaims(List<Object> results) {
        long winners = results.stream().filter(r -> r instanceof OutputClaim).count();
        assertEquals(1, winners, "claims granted: " + results);
        for (Object r : results) {
            if (r instanceof UserInputException e) {
                assertTrue(e.getMessage().contains("explanations/") || e.getMessage().contains("singular_vectors/"), e.getMessage());
                assertTrue(e.getMessage().contains("being written by another run") || e.getMessage().contains("taken over"), e.getMessage());
            }
        }
        for (Object r : results) if (r instanceof OutputClaim c) c.close();
    }

}
