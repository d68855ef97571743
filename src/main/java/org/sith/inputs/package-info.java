/**
 * The readers of what users point commands at (SPEC §10's inputs): concept dictionaries, image means, vectors, edit
 * tables, explanations, image sets and manifests, tokenizers, output folders for sql and report. Each checks schema and
 * content and names the file, row, line or column at fault; Parquet inputs are checked against the columns and types
 * they need before a row is read ({@link org.sith.inputs.ParquetInputs}).
 */
package org.sith.inputs;
