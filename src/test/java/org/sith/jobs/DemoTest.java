package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.demo.SyntheticClip;
import org.sith.run.JobRun;

/** The demo end to end: planted concepts recovered, outputs readable by DuckDB with the SPEC schemas. */
class DemoTest extends SparkTestBase {
    @TempDir
    Path tmp;

    @Test
    void demoRecoversEveryPlantedConceptAndDuckDbReadsTheOutputs() throws Exception {
        String out = tmp.resolve("demo").toString();
        Run run = cli("demo", "--out", out);
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stdout().contains("planted concepts recovered: " + SyntheticClip.PLANTS.size() + "/" + SyntheticClip.PLANTS.size()), run.stdout());

        List<DemoJob.Recovery> rs = DemoJob.check(spark, out + "/explanations");
        for (DemoJob.Recovery r : rs) {
            assertTrue(r.recovered(), "planted " + r.plant() + " found " + r.found());
            // The planted weights' ratios survive normalization: w_a / w_b = c_a / c_b.
            double[] planted = r.plant().weights();
            for (int i = 1; i < planted.length; i++) {
                assertEquals(planted[0] / planted[i], r.weights().get(0) / r.weights().get(i), 0.02, "weight ratio of " + r.plant());
            }
            assertEquals(1.0, r.fidelity(), 1e-4); // every planted direction is exact, sv 1 included
        }

        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet rsCount = s.executeQuery("SELECT count(*), count(DISTINCT layer), min(k), max(len(concepts)), bool_or(vector IS NOT NULL) "
                    + "FROM read_parquet('" + out + "/explanations/**/*.parquet', hive_partitioning = true)");
            rsCount.next();
            assertEquals(4 * 4 * 64, rsCount.getLong(1));
            assertEquals(4, rsCount.getLong(2));
            assertEquals(5, rsCount.getInt(3));
            assertEquals(5, rsCount.getInt(4));
            assertEquals(false, rsCount.getBoolean(5));

            List<String> cols = new ArrayList<>();
            ResultSet d = s.executeQuery("DESCRIBE SELECT * FROM read_parquet('" + out + "/explanations/**/*.parquet', hive_partitioning = true)");
            while (d.next()) cols.add(d.getString(1) + " " + d.getString(2));
            assertTrue(cols.contains("concepts STRUCT(id INTEGER, concept VARCHAR, weight DOUBLE)[]"), cols.toString());
            for (String expected : List.of("model VARCHAR", "vector INTEGER", "head INTEGER", "sv INTEGER", "side VARCHAR", "sigma DOUBLE",
                    "method VARCHAR", "lambda DOUBLE", "k INTEGER", "fidelity DOUBLE", "fidelity_residual DOUBLE", "coherence DOUBLE",
                    "degenerate BOOLEAN", "dictionary VARCHAR")) {
                assertTrue(cols.contains(expected), expected + " in " + cols);
            }

            ResultSet top = s.executeQuery("SELECT concepts[1].concept, sigma, side, method FROM read_parquet('" + out
                    + "/explanations/**/*.parquet', hive_partitioning = true) WHERE layer = 3 AND head = 1 AND sv = 0");
            top.next();
            assertEquals("golden retriever", top.getString(1));
            assertEquals(20.0, top.getDouble(2), 1e-3); // the planted σ
            assertEquals("right", top.getString(3));
            assertEquals("comp", top.getString(4));

            ResultSet sv = s.executeQuery("SELECT count(*), min(len(vector)), max(len(vector)), min(len(joint)), "
                    + "max(abs(list_dot_product(vector, vector) - 1)), max(abs(list_dot_product(joint, joint) - 1)) "
                    + "FROM read_parquet('" + out + "/singular_vectors/*.parquet')");
            sv.next();
            assertEquals(1024, sv.getLong(1));
            assertEquals(256, sv.getInt(2));
            assertEquals(256, sv.getInt(3));
            assertEquals(128, sv.getInt(4));
            assertTrue(sv.getDouble(5) < 1e-5, "unit singular vectors");
            assertTrue(sv.getDouble(6) < 1e-5, "unit joint vectors");
        }
        assertTrue(new java.io.File(out, "_run.json").isFile());
        assertTrue(new java.io.File(out, "explanations/_run.json").isFile());
        assertTrue(!new java.io.File(out, JobRun.WORK).exists(), "work folder removed after success");
    }
}
