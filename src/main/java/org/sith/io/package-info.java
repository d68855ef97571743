/**
 * File formats over any Hadoop file system: .npy read and written, strict UTF-8 text lines, float conversions.
 */
package org.sith.io;
