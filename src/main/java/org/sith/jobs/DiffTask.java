package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.sith.analysis.ConceptOverlap;
import org.sith.analysis.HeadDiff;
import org.sith.checkpoint.AdaptedCheckpoint;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.LoraAdapter;
import org.sith.checkpoint.VisionWeights;
import org.sith.coding.SparseCoder;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.ExplainedVector;
import org.sith.heads.Explainer;
import org.sith.heads.HeadBasis;
import org.sith.heads.JointSpace;
import org.sith.heads.VoFactors;
import org.sith.linalg.Gemm;

/** The executor side of `diff`: both sides' bases for a batch of heads, compared (and explained with concepts). */
final class DiffTask implements FlatMapFunction<Iterator<HeadBatch>, DiffTask.Out> {
    private static final long serialVersionUID = 1L;

    /** One head's comparison; {@code overlaps[j]} compares fine-tuned vector j with its match (null without concepts). */
    record Out(HeadDiff diff, ConceptOverlap[] overlaps) implements Serializable {}

    private final DiffJob.Params p;
    private final int rank;
    private final SerializableConf conf;
    private final Broadcast<LoraAdapter> adapter; // null with --finetuned
    private final Broadcast<ConceptDictionary> dict; // null without --concepts
    private final Broadcast<JointSpace> jointBase;
    private final Broadcast<JointSpace> jointFt;
    private final LongAccumulator headsDone;

    DiffTask(DiffJob.Params p, int rank, SerializableConf conf, Broadcast<LoraAdapter> adapter, Broadcast<ConceptDictionary> dict,
             Broadcast<JointSpace> jointBase, Broadcast<JointSpace> jointFt, LongAccumulator headsDone) {
        this.p = p;
        this.rank = rank;
        this.conf = conf;
        this.adapter = adapter;
        this.dict = dict;
        this.jointBase = jointBase;
        this.jointFt = jointFt;
        this.headsDone = headsDone;
    }

    @Override
    public Iterator<Out> call(Iterator<HeadBatch> batches) throws Exception {
        TaskContext tc = TaskContext.get();
        int cpus = tc == null ? 1 : tc.cpus();
        if (dict != null) Gemm.setBlasThreads(cpus); // BLAS (and ND4J's natives) only for the joint projections of explanations
        List<Out> out = new ArrayList<>();
        try (ClipCheckpoint base = ClipCheckpoint.open(p.base(), conf.get(), p.heads());
             VisionWeights ft = adapter != null ? new AdaptedCheckpoint(ClipCheckpoint.open(p.base(), conf.get(), p.heads()), adapter.value())
                     : ClipCheckpoint.open(p.finetuned(), conf.get(), p.heads())) {
            ConceptDictionary d = dict == null ? null : dict.value();
            SparseCoder coder = d == null ? null : ExecutorCache.borrow(d, cpus);
            try {
                while (batches.hasNext()) {
                    HeadBatch b = batches.next();
                    List<HeadBasis[]> bases = new ArrayList<>();
                    List<HeadDiff> diffs = new ArrayList<>();
                    compare(base, ft, b, bases, diffs);
                    ConceptOverlap[][] overlaps = new ConceptOverlap[diffs.size()][];
                    if (coder != null) explain(bases, diffs, coder, d, overlaps);
                    for (int i = 0; i < diffs.size(); i++) out.add(new Out(diffs.get(i), overlaps[i]));
                    headsDone.add(b.size());
                }
            } finally {
                if (coder != null) ExecutorCache.release(coder, d);
            }
        }
        return out.iterator();
    }

    /** Reads each layer's weights of both sides once for all of its heads in the batch. */
    private void compare(VisionWeights base, VisionWeights ft, HeadBatch b, List<HeadBasis[]> bases, List<HeadDiff> diffs) {
        int loaded = -1;
        float[][] wb = null;
        float[][] wf = null;
        int d = base.width();
        int dh = base.headDim();
        for (int i = 0; i < b.size(); i++) {
            int l = b.layers()[i];
            int h = b.heads()[i];
            if (l != loaded) {
                wb = new float[][] {base.valueWeight(l), base.outWeight(l), base.ln1Weight(l)};
                wf = new float[][] {ft.valueWeight(l), ft.outWeight(l), ft.ln1Weight(l)};
                loaded = l;
            }
            VoFactors fb = VoFactors.of(l, h, d, dh, wb[0], wb[1], wb[2], true);
            VoFactors ff = VoFactors.of(l, h, d, dh, wf[0], wf[1], wf[2], true);
            HeadBasis bb = HeadBasis.compute(fb, dh);
            HeadBasis bf = HeadBasis.compute(ff, dh);
            diffs.add(HeadDiff.compute(fb, bb, ff, bf, rank, p.side()));
            bases.add(new HeadBasis[] {bb.top(rank), bf.top(rank)});
        }
    }

    /** Explains both sides' vectors (each in its own joint space) and compares every fine-tuned vector's concepts with its match's. */
    private void explain(List<HeadBasis[]> bases, List<HeadDiff> diffs, SparseCoder coder, ConceptDictionary d, ConceptOverlap[][] overlaps) {
        List<HeadBasis> b = new ArrayList<>();
        List<HeadBasis> f = new ArrayList<>();
        for (HeadBasis[] pair : bases) {
            b.add(pair[0]);
            f.add(pair[1]);
        }
        List<ExplainedVector> eb = Explainer.explain(b, p.side(), jointBase.value(), coder, p.method(), p.k(), p.lambda());
        List<ExplainedVector> ef = Explainer.explain(f, p.side(), jointFt.value(), coder, p.method(), p.k(), p.lambda());
        for (int h = 0; h < diffs.size(); h++) {
            int[] match = diffs.get(h).match();
            overlaps[h] = new ConceptOverlap[rank];
            for (int j = 0; j < rank; j++) {
                overlaps[h][j] = ConceptOverlap.of(ef.get(h * rank + j).code(), eb.get(h * rank + match[j]).code(), d);
            }
        }
    }
}
