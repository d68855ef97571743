/**
 * The benchmark command's measurements (figures printed, not timed tests).
 */
package org.sith.bench;
