package org.sith.run;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sith.coding.Code;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.ExplainedVector;
import org.sith.io.FloatBits;
import org.sith.linalg.Vec;

/** Builds output rows in the column order of {@link Schemas}. */
public final class Rows {
    private Rows() {}

    /** A Scala Seq: Spark's row encoder takes arrays of structs only as Seq. */
    public static scala.collection.Seq<Row> concepts(Code c, ConceptDictionary dict) {
        List<Row> out = new ArrayList<>(c.ids().length);
        for (int i = 0; i < c.ids().length; i++) {
            int row = c.ids()[i];
            out.add(RowFactory.create(dict.id(row), dict.concept(row), c.weights()[i]));
        }
        return scala.jdk.javaapi.CollectionConverters.asScala(out);
    }

    /** A row of {@link Schemas#DECOMPOSED}: the two float32 vectors as their little-endian bytes. */
    public static Row decomposed(String model, String tower, Coding coding, String dictionary, ExplainedVector e, ConceptDictionary dict) {
        Code c = e.code();
        return RowFactory.create(model, null, e.layer(), e.head() < 0 ? null : e.head(), e.sv(), e.side(), e.sigma(),
                coding.methodLabel(), coding.effectiveLambda(), coding.k(), concepts(c, dict), c.fidelity(), e.fidelityResidual(), c.coherence(),
                e.degenerate(), dictionary, tower, e.component().label(),
                FloatBits.toLittleEndian(Vec.toFloat(e.vector())), FloatBits.toLittleEndian(Vec.toFloat(e.joint())));
    }

    /** A row of {@link Schemas#EXPLANATIONS} for an arbitrary input vector (`explain`). */
    public static Row explained(String model, int vector, Coding coding, String dictionary, Code c, ConceptDictionary dict) {
        return RowFactory.create(model, vector, null, null, null, null, null,
                coding.methodLabel(), coding.effectiveLambda(), coding.k(), concepts(c, dict), c.fidelity(), null, c.coherence(), null, dictionary);
    }
}
