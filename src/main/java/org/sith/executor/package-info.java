/**
 * What runs on Spark executors: the per-task work (a batch of heads for decompose and diff, a slice of images) and the
 * per-executor caches (one dictionary and a pool of coders, one tower per JVM), with
 * {@link org.sith.executor.CodingContext}, the coding set-up decompose, explain and diff share.
 */
package org.sith.executor;
