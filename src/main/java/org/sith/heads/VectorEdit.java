package org.sith.heads;

import java.io.Serializable;

/**
 * One requested edit (SPEC §8): scale vector {@code id} by α; {@code relevance} is R_j for a query edit, null for a table.
 * A {@code vo} edit scales a head's singular vector (layer, head, sv); an {@code mlp} edit scales neuron {@code id.sv()}'s
 * write column of block {@code id.layer()}'s MLP output map, its id's head being {@link VectorId#MLP_HEAD}.
 */
public record VectorEdit(VectorId id, double alpha, Double relevance, Component component) implements Serializable {
    public VectorEdit {
        if (component == null) component = Component.VO;
        if (component == Component.QK) throw new IllegalArgumentException("qk circuits are not edited");
        if ((component == Component.MLP) != (id.head() == VectorId.MLP_HEAD)) {
            throw new IllegalArgumentException("an mlp edit has head " + VectorId.MLP_HEAD + ", a vo edit a head: " + component + " " + id);
        }
    }

    /** A VO edit. */
    public VectorEdit(VectorId id, double alpha, Double relevance) {
        this(id, alpha, relevance, Component.VO);
    }

    /** "layer 3 head 1 sv 2", or "mlp layer 3 neuron 17". */
    public String describe() {
        return component == Component.MLP ? "mlp layer " + id.layer() + " neuron " + id.sv() : id.toString();
    }
}
