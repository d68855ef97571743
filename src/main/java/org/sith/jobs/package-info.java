/**
 * One Spark job per command (SPEC §10), nothing else: each reads its typed {@code Config}, runs inside
 * {@link org.sith.run.JobRun}, reads inputs through {@link org.sith.inputs}, sends work to {@link org.sith.executor}
 * and leaves the numbers to the core packages.
 */
package org.sith.jobs;
