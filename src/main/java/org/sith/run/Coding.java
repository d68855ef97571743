package org.sith.run;

import java.io.Serializable;

import org.sith.UserInputException;
import org.sith.coding.Method;
import org.sith.coding.Scoring;

/**
 * How vectors are coded (SPEC §5): the coder, COMP's coherence weight λ, the number of concepts K, the
 * rows coded together in one product and how that product is computed (SPEC §12; it never changes a
 * selection, so it is not one of the parameters that key the outputs). The defaults here are the only ones: `--help`, the demo and the
 * benchmark read them from this class.
 */
public record Coding(Method method, double lambda, int k, int batchRows, Scoring scoring) implements Serializable, RunRecord.Recordable {
    public static final Method DEFAULT_METHOD = Method.COMP;
    public static final double DEFAULT_LAMBDA = 0.3;
    public static final int DEFAULT_K = 5;
    /** ≥ 256 rows keep the product near the GEMM roofline; 512 is where it flattens (PERFORMANCE.md). */
    public static final int DEFAULT_BATCH_ROWS = 512;
    public static final Scoring DEFAULT_SCORING = Scoring.AUTO;
    public static final Coding DEFAULTS = new Coding(DEFAULT_METHOD, DEFAULT_LAMBDA, DEFAULT_K, DEFAULT_BATCH_ROWS, DEFAULT_SCORING);

    public Coding {
        if (method == null) throw new UserInputException("--method is missing");
        if (!Double.isFinite(lambda)) throw new UserInputException("--lambda " + lambda + " is not a finite number");
        if (lambda < 0) throw new UserInputException("--lambda " + lambda + " must not be negative");
        if (k < 1) throw new UserInputException("--k " + k + " must be at least 1");
        if (batchRows < 1) throw new UserInputException("--batch-rows " + batchRows + " must be at least 1");
        if (scoring == null) throw new UserInputException("--scoring is missing");
    }

    /** Default scoring. */
    public Coding(Method method, double lambda, int k, int batchRows) {
        this(method, lambda, k, batchRows, DEFAULT_SCORING);
    }

    public Coding withBatchRows(int rows) {
        return new Coding(method, lambda, k, rows, scoring);
    }

    public Coding withScoring(Scoring s) {
        return new Coding(method, lambda, k, batchRows, s);
    }

    /** λ as the coder uses it and the outputs record it: COMP's coherence weight, 0 for the coders that have none. */
    public double effectiveLambda() {
        return method == Method.COMP ? lambda : 0.0;
    }

    @Override
    public void recordOptions(java.util.Map<String, Object> options) {
        options.put("method", method.label());
        options.put("lambda", lambda);
        options.put("k", k);
        options.put("batch-rows", batchRows);
        options.put("scoring", scoring.label());
    }

    /** The method's name as written in outputs and accepted by `--method`. */
    public String methodLabel() {
        return method.label();
    }
}
