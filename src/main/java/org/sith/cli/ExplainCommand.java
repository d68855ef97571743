package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.jobs.ExplainJob;

final class ExplainCommand implements Command {
    @Override
    public String name() {
        return "explain";
    }

    @Override
    public String summary() {
        return "Explain arbitrary joint-space vectors (.npy rows or a Parquet array column) as a few concepts: writes explanations/.";
    }

    @Override
    public List<OptionSpec> options() {
        List<OptionSpec> l = new ArrayList<>();
        l.add(value("vectors", "PATH", "vectors in the joint space: .npy (N×p) or a Parquet folder with an array column"));
        l.add(value("center", "concepts|none", "mean subtracted after normalizing (default concepts; none with --image-mean)"));
        l.addAll(CommonOptions.coding());
        l.add(CommonOptions.OUT);
        l.add(CommonOptions.OVERWRITE);
        return l;
    }

    @Override
    public void validate(Options o) {
        o.required("vectors");
        CommonOptions.validateCoding(o);
        String c = o.get("center");
        if (c != null && !c.equals("concepts") && !c.equals("none")) {
            throw new UserInputException("--center: unknown value '" + c + "' (concepts or none)");
        }
    }

    @Override
    public int run(Options o, SparkSession spark) {
        long n = ExplainJob.run(spark, new ExplainJob.Params(o.required("vectors"), o.required("concepts"), o.get("vocab"),
                o.get("image-mean"), o.get("center"), CommonOptions.method(o), CommonOptions.lambda(o), o.positiveInt("k"),
                o.get("model-name"), o.required("out"), o.flag("overwrite"), o.positiveInt("batch-rows")));
        System.out.printf("explain: %d vectors explained → %s%n", n, o.required("out"));
        return 0;
    }
}
