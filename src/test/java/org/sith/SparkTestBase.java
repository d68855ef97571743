package org.sith;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.sith.cli.Main;

/** One local[2] SparkSession per test class (a session takes 10–15 s to start). */
public abstract class SparkTestBase {
    protected static SparkSession spark;

    @BeforeAll
    static void startSpark() {
        spark = SparkSession.builder().master("local[2]").appName("sith-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }

    @AfterAll
    static void stopSpark() {
        if (spark != null) spark.stop();
        spark = null;
    }

    /** Exit status and what the command printed on stderr. */
    public record Run(int status, String stderr, String stdout) {}

    /** Runs a command as the launcher would, on the shared session, capturing stdout and stderr. */
    protected static Run cli(String... args) {
        PrintStream oldErr = System.err;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute(args, spark);
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
        }
        String e = err.toString(StandardCharsets.UTF_8);
        String o = out.toString(StandardCharsets.UTF_8);
        oldErr.print(e);
        oldOut.print(o);
        return new Run(status, e, o);
    }
}
