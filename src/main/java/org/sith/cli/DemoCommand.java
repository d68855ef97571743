package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.nio.file.Files;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.demo.Demo;

final class DemoCommand implements Command {
    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "Build a small synthetic CLIP with concepts planted in known heads, decompose it, and show what was recovered.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("out", "DIR", "output folder (default: a new temporary folder)"),
                value("seed", "N", "seed of the synthetic model", "7"),
                CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.intOrNull("seed");
    }

    @Override
    public int run(Options o, SparkSession spark) throws Exception {
        String out = o.get("out") != null ? o.get("out") : Files.createTempDirectory("sith-demo-").toString();
        List<Demo.Recovery> rs = Demo.run(spark, out, o.flag("overwrite"), o.intOrNull("seed"));
        System.out.println();
        System.out.print(Demo.table(rs));
        System.out.println("outputs: " + out + "/{model,concepts,explanations,singular_vectors}");
        System.out.println("query them, e.g.: duckdb -c \"SELECT layer, head, sv, concepts[1].concept FROM '" + out
                + "/explanations/**/*.parquet' ORDER BY sigma DESC LIMIT 10\"");
        return rs.stream().allMatch(Demo.Recovery::recovered) ? 0 : 1;
    }
}
