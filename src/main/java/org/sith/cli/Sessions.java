package org.sith.cli;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The SparkSession of a command: spark-submit's settings when present, an embedded local one otherwise. */
public final class Sessions {
    private Sessions() {}

    public static SparkSession getOrCreate(String appName) {
        SparkConf conf = new SparkConf(); // picks up spark.* system properties and spark-submit settings
        if (!conf.contains("spark.master")) conf.setMaster("local[*]");
        String master = conf.get("spark.master");
        if (master.startsWith("local")) {
            conf.setIfMissing("spark.ui.enabled", "false");
            conf.setIfMissing("spark.sql.shuffle.partitions", "8");
            // One task owns all local cores and gives them to OpenBLAS: the products are the work, and
            // two tasks with multithreaded BLAS oversubscribe the cores (PERFORMANCE.md).
            conf.setIfMissing("spark.task.cpus", String.valueOf(localCores(master)));
        }
        conf.setIfMissing("spark.sql.parquet.compression.codec", "snappy");
        conf.setAppName(appName);
        return SparkSession.builder().config(conf).getOrCreate();
    }

    static int localCores(String master) {
        int all = Runtime.getRuntime().availableProcessors();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)(?:,\\d+)?]").matcher(master);
        if (m.matches() && !m.group(1).equals("*")) return Math.max(1, Integer.parseInt(m.group(1)));
        return master.equals("local") ? 1 : all;
    }
}
