package org.sith.inputs;

import java.io.Serializable;

/**
 * One row of `concepts/` as a bean, so Spark decodes the embedding straight into a float[]
 * (collecting Rows would box every value: 38 M Float objects for 50k × 768).
 */
public class ConceptRow implements Serializable {
    private static final long serialVersionUID = 1L;
    private Integer id;
    private String concept;
    private float[] embedding;

    public Integer getId() {
        return id;
    }

    public void setId(Integer id) {
        this.id = id;
    }

    public String getConcept() {
        return concept;
    }

    public void setConcept(String concept) {
        this.concept = concept;
    }

    public float[] getEmbedding() {
        return embedding;
    }

    public void setEmbedding(float[] embedding) {
        this.embedding = embedding;
    }
}
