package org.sith.cli;

import java.nio.file.Files;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.DemoJob;

final class DemoCommand implements Command<DemoCommand.Config> {
    static final Opt<String> OUT = Opt.text("out", "DIR", "output folder (default: a new temporary folder)");
    static final Opt<Long> SEED = Opt.of("seed", "N", "seed of the synthetic model", DemoJob.DEFAULT_SEED, s -> (long) Opt.integer(s));

    record Config(String out, long seed, boolean overwrite) {}

    @Override
    public String name() {
        return DemoJob.NAME;
    }

    @Override
    public String summary() {
        return "Build a small synthetic CLIP with concepts planted in known heads, decompose it, and show what was recovered.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(OUT, SEED, CommonOptions.OVERWRITE);
    }

    @Override
    public Config config(Options o) {
        return new Config(o.get(OUT), o.get(SEED), o.flag(CommonOptions.OVERWRITE));
    }

    @Override
    public int run(Config c, SparkSession spark) throws Exception {
        String out = c.out() != null ? c.out() : Files.createTempDirectory("sith-demo-").toString();
        List<DemoJob.Recovery> rs = DemoJob.run(spark, out, c.overwrite(), c.seed());
        System.out.println();
        System.out.print(DemoJob.table(rs));
        System.out.println("outputs: " + out + "/{model,concepts,explanations,singular_vectors}");
        System.out.println("query them, e.g.: duckdb -c \"SELECT layer, head, sv, concepts[1].concept FROM '" + out
                + "/explanations/**/*.parquet' ORDER BY sigma DESC LIMIT 10\"");
        return rs.stream().allMatch(DemoJob.Recovery::recovered) ? 0 : 1;
    }
}
