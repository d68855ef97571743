package org.sith.cli;

import static org.sith.cli.OptionSpec.flag;
import static org.sith.cli.OptionSpec.value;

import java.nio.file.Files;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.bench.Benchmark;

final class BenchmarkCommand implements Command {
    @Override
    public String name() {
        return "benchmark";
    }

    @Override
    public String summary() {
        return "Print measured figures: sgemm roofline, COMP throughput, head SVD time, a full ViT-L/14-shaped decompose.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("concepts-n", "N", "dictionary size", "50000"),
                value("p", "P", "joint-space width", "768"),
                value("batch-rows", "N", "rows per product", "512"),
                value("work", "DIR", "scratch folder for the random model and outputs (default: a temporary folder)"),
                flag("no-decompose", "only the roofline, COMP and SVD figures"));
    }

    @Override
    public void validate(Options o) {
        o.positiveInt("concepts-n");
        o.positiveInt("p");
        o.positiveInt("batch-rows");
    }

    @Override
    public int run(Options o, SparkSession spark) throws Exception {
        String work = o.get("work") != null ? o.get("work") : Files.createTempDirectory("sith-bench-").toString();
        Files.createDirectories(java.nio.file.Path.of(work));
        Benchmark.run(spark, o.positiveInt("concepts-n"), o.positiveInt("p"), o.positiveInt("batch-rows"), !o.flag("no-decompose"), work);
        return 0;
    }
}
