/**
 * The run harness of SPEC §10: the typed pieces of configuration commands share ({@link org.sith.run.Coding},
 * {@link org.sith.run.HeadSelection}, {@link org.sith.run.OutputTarget} with its {@link org.sith.run.WriteMode},
 * {@link org.sith.run.ImageSettings}), each validated where it is built and holding its defaults;
 * {@link org.sith.run.JobRun}, the one output lifecycle every command runs in (claim, stage, record, commit or abort);
 * {@link org.sith.run.OutputClaim}, the atomic claim of an output folder on the local file system, HDFS and s3a;
 * {@link org.sith.run.RunRecord}, `_run.json`; the Parquet schemas, rows and byte-stable footers of the outputs.
 */
package org.sith.run;
