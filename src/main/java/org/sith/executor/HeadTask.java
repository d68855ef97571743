package org.sith.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;
import org.sith.heads.ExplainedVector;
import org.sith.heads.Explainer;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.heads.VectorGroup;
import org.sith.run.Rows;

/**
 * The executor side of `decompose`: a batch of units (heads' VO maps or QK circuits, blocks of MLP neurons), their
 * vectors projected and coded together in products of about batch-rows rows.
 */
public final class HeadTask implements FlatMapFunction<Iterator<UnitBatch>, Row> {
    private static final long serialVersionUID = 1L;

    /** What the task needs besides the batches: where the weights are and how to explain them. */
    public record Settings(String checkpoint, Integer headsOverride, Side side, int rank, String model, TowerKind tower) implements Serializable {
        /** The vision tower (what decompose explained before it had a choice of tower). */
        public Settings(String checkpoint, Integer headsOverride, Side side, int rank, String model) {
            this(checkpoint, headsOverride, side, rank, model, TowerKind.VISION);
        }
    }

    /**
     * Task-side counters: heads done, nanoseconds per phase, the coder's products and their rows, the rows
     * that ran in bf16 (SPEC §12: which path ran, executor by executor), greedy choices and the atoms
     * re-scored in double for them.
     */
    public record Counters(LongAccumulator heads, LongAccumulator[] nanos, LongAccumulator products, LongAccumulator productRows,
                           LongAccumulator bf16Rows, LongAccumulator choices, LongAccumulator rescoredAtoms) implements Serializable {
        public static final String[] PHASES = {"read_and_svd", "joint_projection", "coding", "fidelity_residual", "task_setup"};

        /** Registers every counter with the driver's SparkContext. */
        public static Counters register(org.apache.spark.SparkContext sc) {
            LongAccumulator[] nanos = new LongAccumulator[PHASES.length];
            for (int i = 0; i < nanos.length; i++) nanos[i] = sc.longAccumulator("nanos_" + PHASES[i]);
            return new Counters(sc.longAccumulator("heads"), nanos, sc.longAccumulator("products"), sc.longAccumulator("product_rows"),
                    sc.longAccumulator("bf16_rows"), sc.longAccumulator("choices"), sc.longAccumulator("rescored_atoms"));
        }

        /** What `_run.json` says ran: "bf16", "fp32", or both with their shares of the product rows. */
        public String scoringPath() {
            long all = productRows.value();
            long bf16 = bf16Rows.value();
            if (all == 0) return null;
            if (bf16 == all) return "bf16";
            if (bf16 == 0) return "fp32";
            return String.format(java.util.Locale.ROOT, "bf16 for %d of %d product rows, fp32 for the rest", bf16, all);
        }
    }

    private final Settings s;
    private final SerializableConf conf;
    private final CodingContext coding;
    private final Broadcast<JointSpace> joint;
    private final Counters counters;

    public HeadTask(Settings s, SerializableConf conf, CodingContext coding, Broadcast<JointSpace> joint, Counters counters) {
        this.s = s;
        this.conf = conf;
        this.coding = coding;
        this.joint = joint;
        this.counters = counters;
    }

    @Override
    public Iterator<Row> call(Iterator<UnitBatch> batches) throws Exception {
        long setup = System.nanoTime();
        List<Row> rows = new ArrayList<>();
        try (TowerSource ck = TowerSource.open(s.tower(), s.checkpoint(), conf.get(), s.headsOverride())) {
            ck.shareBlocks(conf.get()); // the task's batch is of one or two layers: the executor's other tasks read them too
            coding.withCoder(coder -> {
                long products = coder.products();
                long productRows = coder.productRows();
                long choices = coder.choices();
                long rescored = coder.rescoredAtoms();
                counters.nanos()[4].add(System.nanoTime() - setup);
                while (batches.hasNext()) {
                    UnitBatch b = batches.next();
                    long t = System.nanoTime();
                    List<VectorGroup> groups = ck.groups(b.units(), s.side(), s.rank());
                    counters.nanos()[0].add(System.nanoTime() - t);
                    long[] phases = new long[3];
                    List<ExplainedVector> explained = Explainer.explainGroups(groups, java.util.Collections.nCopies(groups.size(), joint.value()), coder,
                            coding.coding().method(), coding.coding().k(), coding.coding().effectiveLambda(), phases);
                    for (int i = 0; i < 3; i++) counters.nanos()[i + 1].add(phases[i]);
                    for (ExplainedVector e : explained) rows.add(Rows.decomposed(s.model(), s.tower().label(), coding.coding(), coding.label(), e, coding.dictionary()));
                    counters.heads().add(b.size());
                }
                counters.products().add(coder.products() - products);
                counters.productRows().add(coder.productRows() - productRows);
                if (coder.path() == org.sith.coding.Scoring.BF16) counters.bf16Rows().add(coder.productRows() - productRows);
                counters.choices().add(coder.choices() - choices);
                counters.rescoredAtoms().add(coder.rescoredAtoms() - rescored);
                return null;
            });
        }
        return rows.iterator();
    }
}
