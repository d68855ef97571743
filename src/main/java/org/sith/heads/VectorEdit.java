package org.sith.heads;

import java.io.Serializable;

/** One requested edit (SPEC §8): scale vector {@code id} by α; {@code relevance} is R_j for a query edit, null for a table. */
public record VectorEdit(VectorId id, double alpha, Double relevance) implements Serializable {}
