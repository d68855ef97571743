package org.sith.cli;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The SparkSession of a command: spark-submit's settings when present, an embedded local one otherwise. */
public final class Sessions {
    private Sessions() {}

    /**
     * The Hadoop configuration a session would have, made the way Spark makes it (so the file systems a preflight
     * opens and caches are configured as the session's), without starting one: Hadoop's defaults, every
     * {@code spark.hadoop.*} setting of spark-submit, the properties file and --conf, and the AWS environment.
     */
    public static Configuration hadoopConf() {
        return org.apache.spark.deploy.SparkHadoopUtil.get().newConfiguration(new SparkConf());
    }

    public static SparkSession getOrCreate(String appName) {
        SparkConf conf = new SparkConf(); // picks up spark.* system properties and spark-submit settings
        if (!conf.contains("spark.master")) conf.setMaster("local[*]");
        String master = conf.get("spark.master");
        if (master.startsWith("local")) {
            conf.setIfMissing("spark.ui.enabled", "false");
            conf.setIfMissing("spark.sql.shuffle.partitions", "8");
            // One single-threaded task per core, as on a cluster with the default spark.task.cpus=1:
            // as fast here as one task with all cores to BLAS (see the benchmark), never oversubscribed,
            // and the same BLAS threading as a cluster run, so the outputs are the same bytes.
        }
        conf.setIfMissing("spark.sql.parquet.compression.codec", "snappy");
        conf.setAppName(appName);
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
