package org.sith.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.heads.ExplainedVector;
import org.sith.heads.Explainer;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.heads.VectorGroup;

/**
 * The executor side of `sweep` (SPEC §13): a batch of units (heads' VO maps, QK circuits, blocks of MLP neurons) is read,
 * decomposed and mapped into the joint space once; the same targets are then coded with every configuration (method, K,
 * λ) by the one coder the task borrows over the executor's copy of the dictionary. One row per vector and configuration
 * ({@link #SCHEMA}); the driver aggregates them.
 */
public final class SweepTask implements FlatMapFunction<Iterator<UnitBatch>, Row> {
    private static final long serialVersionUID = 1L;

    /** One coding of the sweep: λ is 0 for the coders without one. */
    public record Config(Method method, int k, double lambda) implements Serializable {}

    /**
     * Per vector and configuration: the configuration's index, the vector's keys, its three metrics and, when a judge will
     * score the explanations, the dictionary rows of its concepts with a non-zero weight in weight order (else null).
     */
    public static final StructType SCHEMA = DataTypes.createStructType(new StructField[] {
            DataTypes.createStructField("config", DataTypes.IntegerType, false),
            DataTypes.createStructField("component", DataTypes.StringType, false),
            DataTypes.createStructField("layer", DataTypes.IntegerType, false),
            DataTypes.createStructField("head", DataTypes.IntegerType, true),
            DataTypes.createStructField("sv", DataTypes.IntegerType, false),
            DataTypes.createStructField("side", DataTypes.StringType, false),
            DataTypes.createStructField("fidelity", DataTypes.DoubleType, false),
            DataTypes.createStructField("fidelity_residual", DataTypes.DoubleType, false),
            DataTypes.createStructField("coherence", DataTypes.DoubleType, false),
            DataTypes.createStructField("rows", DataTypes.createArrayType(DataTypes.IntegerType, false), true),
    });

    /** Where the weights are and what is explained. */
    public record Settings(String checkpoint, Integer headsOverride, Side side, int rank, TowerKind tower, List<Config> configs, boolean concepts)
            implements Serializable {
        public Settings {
            configs = List.copyOf(configs);
        }
    }

    /** Units whose bases were computed (each once, however many configurations code them), and nanoseconds per phase. */
    public record Counters(LongAccumulator bases, LongAccumulator[] nanos) implements Serializable {
        public static final String[] PHASES = {"read_and_svd", "joint_projection", "coding", "fidelity_residual"};

        public static Counters register(org.apache.spark.SparkContext sc) {
            LongAccumulator[] nanos = new LongAccumulator[PHASES.length];
            for (int i = 0; i < nanos.length; i++) nanos[i] = sc.longAccumulator("sweep_nanos_" + PHASES[i]);
            return new Counters(sc.longAccumulator("sweep_bases"), nanos);
        }
    }

    private final Settings s;
    private final SerializableConf conf;
    private final CodingContext coding;
    private final Broadcast<JointSpace> joint;
    private final Counters counters;

    public SweepTask(Settings s, SerializableConf conf, CodingContext coding, Broadcast<JointSpace> joint, Counters counters) {
        this.s = s;
        this.conf = conf;
        this.coding = coding;
        this.joint = joint;
        this.counters = counters;
    }

    @Override
    public Iterator<Row> call(Iterator<UnitBatch> batches) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (TowerSource ck = TowerSource.open(s.tower(), s.checkpoint(), conf.get(), s.headsOverride())) {
            ck.shareBlocks(conf.get()); // as decompose's tasks: the executor's tasks share the blocks they read
            coding.withCoder(coder -> {
                while (batches.hasNext()) {
                    UnitBatch b = batches.next();
                    long t = System.nanoTime();
                    List<VectorGroup> groups = ck.groups(b.units(), s.side(), s.rank());
                    counters.bases().add(b.size());
                    long t1 = System.nanoTime();
                    Explainer.Targets targets = Explainer.targets(groups, Collections.nCopies(groups.size(), joint.value()));
                    counters.nanos()[0].add(t1 - t);
                    counters.nanos()[1].add(System.nanoTime() - t1);
                    for (int c = 0; c < s.configs().size(); c++) {
                        Config cfg = s.configs().get(c);
                        long[] phases = new long[3];
                        List<ExplainedVector> explained = Explainer.explainTargets(targets, coder, cfg.method(), cfg.k(), cfg.lambda(), phases);
                        counters.nanos()[2].add(phases[1]);
                        counters.nanos()[3].add(phases[2]);
                        for (ExplainedVector e : explained) rows.add(row(c, e, s.concepts()));
                    }
                }
                return null;
            });
        }
        return rows.iterator();
    }

    static Row row(int config, ExplainedVector e, boolean concepts) {
        Code c = e.code();
        Object ids = null;
        if (concepts) {
            List<Integer> l = new ArrayList<>();
            for (int i = 0; i < c.ids().length; i++) if (c.weights()[i] != 0) l.add(c.ids()[i]);
            ids = scala.jdk.javaapi.CollectionConverters.asScala(l).toSeq();
        }
        return RowFactory.create(config, e.component().label(), e.layer(), e.head() < 0 ? null : e.head(), e.sv(), e.side(),
                c.fidelity(), e.fidelityResidual(), c.coherence(), ids);
    }
}
