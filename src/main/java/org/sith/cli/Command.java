package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;

/** A user-facing command: its options, a check that needs no Spark, and the run. */
public interface Command {
    String name();

    String summary();

    List<OptionSpec> options();

    /** The name of the command's one positional argument in its usage (e.g. QUERY), or null: it takes none. */
    default String positional() {
        return null;
    }

    /** Checks option values before a SparkSession is started, so typos fail in milliseconds. */
    default void validate(Options o) {}

    /** False for commands that run without Spark (the benchmark). */
    default boolean needsSpark() {
        return true;
    }

    /** Returns the exit status. */
    int run(Options o, SparkSession spark) throws Exception;
}
