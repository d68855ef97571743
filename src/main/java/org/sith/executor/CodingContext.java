package org.sith.executor;

import java.io.Serializable;
import java.util.function.Function;

import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.sith.coding.SparseCoder;
import org.sith.concepts.ConceptDictionary;
import org.sith.inputs.Concepts;
import org.sith.inputs.ConceptsInput;
import org.sith.run.Coding;
import org.sith.run.JobRun;
import org.sith.run.RunRecord;

/**
 * The coding set-up that decompose, explain and diff share. On the driver: the dictionary loaded, checked
 * against K, recorded in `_run.json` (its inputs, its fingerprint and the coding parameters) and broadcast
 * once. On an executor: a coder over the executor's one copy of the dictionary, with the command's rows per
 * product and the task's cores.
 */
public final class CodingContext implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Broadcast<ConceptDictionary> dict;
    private final Coding coding;
    private final String label;
    private transient ConceptsInput input; // the driver's: what record() names

    private CodingContext(Broadcast<ConceptDictionary> dict, Coding coding, String label) {
        this.dict = dict;
        this.coding = coding;
        this.label = label;
    }

    /** Loads the dictionary of {@code in} for a joint space {@code p} wide, checks it against K and broadcasts it once. */
    public static CodingContext prepare(JobRun run, ConceptsInput in, int p, Coding coding) {
        coding.scoring().resolve(); // --scoring bf16 where oneDNN cannot load: refused before any work
        ConceptDictionary d = Concepts.forCoding(run.spark(), run.command(), in, p, coding.k());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(run.spark().sparkContext());
        CodingContext c = new CodingContext(jsc.broadcast(d), coding, label(in.concepts(), d));
        c.input = in;
        return c;
    }

    /**
     * Records the dictionary in `_run.json`: the inputs concepts, vocab and (when given) image_mean, then the prepared
     * dictionary's fingerprint, then the coding parameters.
     */
    public void record(JobRun run, String imageMean) {
        ConceptDictionary d = dict.value();
        RunRecord record = run.record();
        record.input("concepts", input.concepts(), run.hadoopConf());
        if (input.vocab() != null) record.input("vocab", input.vocab(), run.hadoopConf());
        if (imageMean != null) record.input("image_mean", imageMean, run.hadoopConf());
        record.inputFingerprint("dictionary", label + " (" + d.size() + " concepts, " + d.droppedDuplicates().size() + " duplicates dropped)",
                d.fingerprint(), ConceptDictionary.FINGERPRINT);
        record.param("method", coding.methodLabel()).param("lambda", coding.effectiveLambda()).param("k", coding.k())
                .param("dictionary", label).param("batch_rows", coding.batchRows());
        // the scoring path changes no selection (SPEC §12): a result, not a parameter that keys the outputs
        record.result("scoring", coding.scoring().label()).result("scoring_driver", coding.scoring().describe());
    }

    /** A context over an already broadcast dictionary (tests make tasks with it). */
    static CodingContext of(Broadcast<ConceptDictionary> dict, Coding coding, String label) {
        return new CodingContext(dict, coding, label);
    }

    /** "name@fingerprint": what the outputs' `dictionary` column says. */
    static String label(String concepts, ConceptDictionary dict) {
        String name = new Path(concepts).getName().replaceAll("\\.npy$", "");
        return name + "@" + dict.fingerprint().substring(0, 12);
    }

    public ConceptDictionary dictionary() {
        return dict.value();
    }

    public Coding coding() {
        return coding;
    }

    public String label() {
        return label;
    }

    /**
     * Runs {@code work} with a coder borrowed from this executor's cache (one dictionary copy per JVM, one
     * coder per concurrent task), giving BLAS the task's cores.
     */
    public <T> T withCoder(Function<SparseCoder, T> work) {
        int cpus = TaskCores.toBlas();
        ConceptDictionary d = dict.value();
        SparseCoder coder = ExecutorCache.borrow(d, coding.scoring(), cpus, coding.batchRows());
        try {
            return work.apply(coder);
        } finally {
            ExecutorCache.release(coder, d, coding.scoring());
        }
    }
}
