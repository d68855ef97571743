package org.sith.jobs;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.coding.SparseCoder;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.ExplainedVector;
import org.sith.heads.Explainer;
import org.sith.heads.HeadBasis;
import org.sith.heads.JointSpace;
import org.sith.heads.VoFactors;
import org.sith.linalg.Gemm;

/** The executor side of `decompose`: head bases for a batch of heads, coded together. */
final class HeadTask implements FlatMapFunction<Iterator<HeadBatch>, Row> {
    private static final long serialVersionUID = 1L;

    private final DecomposeJob.Params p;
    private final SerializableConf conf;
    private final String model;
    private final String dictionaryLabel;
    private final Broadcast<ConceptDictionary> dict;
    private final Broadcast<JointSpace> joint;
    private final LongAccumulator headsDone;
    private final LongAccumulator[] nanos; // read+SVD, joint projection, coding, residual fidelity, task setup

    HeadTask(DecomposeJob.Params p, SerializableConf conf, String model, String dictionaryLabel,
             Broadcast<ConceptDictionary> dict, Broadcast<JointSpace> joint, LongAccumulator headsDone,
             LongAccumulator[] nanos) {
        this.nanos = nanos;
        this.p = p;
        this.conf = conf;
        this.model = model;
        this.dictionaryLabel = dictionaryLabel;
        this.dict = dict;
        this.joint = joint;
        this.headsDone = headsDone;
    }

    @Override
    public Iterator<Row> call(Iterator<HeadBatch> batches) throws Exception {
        long setup = System.nanoTime();
        TaskContext tc = TaskContext.get();
        int cpus = tc == null ? 1 : tc.cpus();
        Gemm.setBlasThreads(cpus);
        ConceptDictionary d = dict.value();
        ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), conf.get(), p.heads());
        SparseCoder coder = ExecutorCache.borrow(d, cpus); // after the open: a bad file must not strand a coder
        List<Row> rows = new ArrayList<>();
        nanos[4].add(System.nanoTime() - setup);
        try {
            int rank = p.rank() == null ? ck.headDim() : p.rank();
            while (batches.hasNext()) {
                HeadBatch b = batches.next();
                long t = System.nanoTime();
                List<HeadBasis> bases = bases(ck, b, rank);
                nanos[0].add(System.nanoTime() - t);
                long[] phases = new long[3];
                List<ExplainedVector> explained = Explainer.explain(bases, p.side(), joint.value(), coder, p.method(), p.k(), p.lambda(), phases);
                for (int i = 0; i < 3; i++) nanos[i + 1].add(phases[i]);
                for (ExplainedVector e : explained) {
                    rows.add(Rows.decomposed(model, p.side().label(), p.method(), p.lambda(), p.k(), dictionaryLabel, e, d));
                }
                headsDone.add(b.size());
            }
        } finally {
            ExecutorCache.release(coder, d);
            ck.tensors().close();
        }
        return rows.iterator();
    }

    /** Reads each layer's weights once for all of its heads in the batch. */
    static List<HeadBasis> bases(ClipCheckpoint ck, HeadBatch b, int rank) {
        List<HeadBasis> out = new ArrayList<>();
        int loaded = -1;
        float[] value = null;
        float[] outW = null;
        float[] gamma = null;
        for (int i = 0; i < b.size(); i++) {
            int l = b.layers()[i];
            if (l != loaded) {
                value = ck.valueWeight(l);
                outW = ck.outWeight(l);
                gamma = ck.ln1Weight(l);
                loaded = l;
            }
            VoFactors f = VoFactors.of(l, b.heads()[i], ck.width(), ck.headDim(), value, outW, gamma, true);
            out.add(HeadBasis.compute(f, rank));
        }
        return out;
    }
}
