package org.sith.jobs;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.ExplainedVector;
import org.sith.linalg.Vec;

/** Builds output rows in the column order of {@link Schemas}. */
final class Rows {
    private Rows() {}

    /** A Scala Seq: Spark's row encoder takes arrays of structs only as Seq. */
    static scala.collection.Seq<Row> concepts(Code c, ConceptDictionary dict) {
        List<Row> out = new ArrayList<>(c.ids().length);
        for (int i = 0; i < c.ids().length; i++) {
            int row = c.ids()[i];
            out.add(RowFactory.create(dict.id(row), dict.concept(row), c.weights()[i]));
        }
        return scala.jdk.javaapi.CollectionConverters.asScala(out);
    }

    static String methodLabel(Method m) {
        return m.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** A row of {@link Schemas#DECOMPOSED}. */
    static Row decomposed(String model, String side, Method method, double lambda, int k, String dictionary,
                          ExplainedVector e, ConceptDictionary dict) {
        Code c = e.code();
        return RowFactory.create(model, null, e.layer(), e.head(), e.sv(), side, e.sigma(),
                methodLabel(method), lambda, k, concepts(c, dict), c.fidelity(), e.fidelityResidual(), c.coherence(),
                e.degenerate(), dictionary, Vec.toFloat(e.vector()), Vec.toFloat(e.joint()));
    }

    /** A row of {@link Schemas#EXPLANATIONS} for an arbitrary input vector (`explain`). */
    static Row explained(String model, int vector, Method method, double lambda, int k, String dictionary,
                         Code c, ConceptDictionary dict) {
        return RowFactory.create(model, vector, null, null, null, null, null,
                methodLabel(method), lambda, k, concepts(c, dict), c.fidelity(), null, c.coherence(), null, dictionary);
    }
}
