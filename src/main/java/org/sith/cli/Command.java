package org.sith.cli;

import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * A user-facing command. Its options are parsed once into a typed, validated configuration {@code C}; checks
 * that need files but no Spark (a layer beyond the model, a rank above the head width) run in
 * {@link #preflight}, before a SparkSession is started; then {@link #run}.
 */
public interface Command<C> {
    String name();

    String summary();

    List<Opt<?>> options();

    /** The name of the command's one positional argument in its usage (e.g. QUERY), or null: it takes none. */
    default String positional() {
        return null;
    }

    /** The configuration, from the parsed command line; every value is checked here. */
    C config(Options o);

    /** Checks against the inputs themselves that need no Spark (the Hadoop configuration reaches s3a and HDFS). */
    default void preflight(C config, Configuration hadoop) {}

    /** False for commands that run without Spark (the benchmark). */
    default boolean needsSpark() {
        return true;
    }

    /** Returns the exit status. */
    int run(C config, SparkSession spark) throws Exception;
}
