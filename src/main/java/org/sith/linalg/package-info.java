/**
 * Native products: f32 through OpenBLAS ({@link org.sith.linalg.Gemm}), bf16 through oneDNN
 * ({@link org.sith.linalg.OneDnn}), both by direct JavaCPP bindings; small vector helpers.
 */
package org.sith.linalg;
