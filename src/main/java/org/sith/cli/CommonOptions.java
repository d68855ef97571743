package org.sith.cli;

import static org.sith.cli.OptionSpec.flag;
import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.sith.UserInputException;
import org.sith.coding.Method;

/** Options shared by the coding commands, with the exact names of SPEC §10. */
final class CommonOptions {
    private CommonOptions() {}

    static final OptionSpec CONCEPTS = value("concepts", "PATH", "concepts/ Parquet folder, or an .npy (N×p or p×N) with --vocab");
    static final OptionSpec VOCAB = value("vocab", "FILE", "concept strings of an .npy dictionary, one a line, in row order");
    static final OptionSpec IMAGE_MEAN = value("image-mean", "PATH", "image mean in the joint space (.npy or Parquet) subtracted before coding");
    static final OptionSpec METHOD = value("method", "comp|nnomp|omp|mp|topk", "sparse coder", "comp");
    static final OptionSpec LAMBDA = value("lambda", "X", "COMP coherence weight λ", "0.3");
    static final OptionSpec K = value("k", "N", "concepts per explanation", "5");
    static final OptionSpec MODEL_NAME = value("model-name", "NAME", "value of the model column (default: from the file name)");
    static final OptionSpec OUT = value("out", "DIR", "output folder (local, file:, hdfs:, s3a:)");
    static final OptionSpec OVERWRITE = flag("overwrite", "replace this command's existing outputs under --out");
    static final OptionSpec RESUME = flag("resume", "keep existing outputs under --out and compute only what is missing");
    static final OptionSpec BATCH_ROWS = value("batch-rows", "N", "vectors coded together per product (≥ 256 keeps BLAS near its roofline)", "512");

    static List<OptionSpec> coding() {
        return List.of(CONCEPTS, VOCAB, IMAGE_MEAN, METHOD, LAMBDA, K, MODEL_NAME, BATCH_ROWS);
    }

    static Method method(Options o) {
        return Method.parse(o.get("method"));
    }

    /** λ as recorded in the output: COMP's coherence weight; 0 for the other coders, which have none. */
    static double lambda(Options o) {
        double l = o.finiteDouble("lambda");
        if (l < 0) throw new UserInputException("--lambda " + l + " must not be negative");
        return method(o) == Method.COMP ? l : 0.0;
    }

    /** Checks the values that need no file: fails fast, before Spark starts. */
    static void validateCoding(Options o) {
        method(o);
        lambda(o);
        o.positiveInt("k");
        o.positiveInt("batch-rows");
        o.required("concepts");
        o.required("out");
    }
}
