package org.sith.executor;

import org.apache.spark.TaskContext;
import org.sith.linalg.Gemm;

/**
 * The cores of the running Spark task (spark.task.cpus; 1 outside a task), given to BLAS: one single-threaded
 * task per core never oversubscribes an executor, and the outputs are the same bytes on any executor size.
 */
final class TaskCores {
    private TaskCores() {}

    /** Sets BLAS to the task's cores and returns them. */
    static int toBlas() {
        TaskContext tc = TaskContext.get();
        int cpus = tc == null ? 1 : tc.cpus();
        Gemm.setBlasThreads(cpus);
        return cpus;
    }
}
