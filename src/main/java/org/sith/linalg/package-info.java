/**
 * BLAS through ND4J's fast call path ({@link org.sith.linalg.Gemm}) and small vector helpers.
 */
package org.sith.linalg;
