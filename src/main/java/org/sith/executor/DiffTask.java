package org.sith.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

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
import org.sith.heads.ExplainedVector;
import org.sith.heads.Explainer;
import org.sith.heads.HeadBasis;
import org.sith.heads.HeadId;
import org.sith.heads.JointSpace;
import org.sith.heads.LayerHeads;
import org.sith.heads.Side;
import org.sith.heads.VoFactors;

/** The executor side of `diff`: both sides' bases for a batch of heads, compared (and, with concepts, explained in one product). */
public final class DiffTask implements FlatMapFunction<Iterator<HeadBatch>, DiffTask.Out> {
    private static final long serialVersionUID = 1L;

    /** One head's comparison; {@code overlaps[j]} compares fine-tuned vector j with its match (null without concepts). */
    public record Out(HeadDiff diff, ConceptOverlap[] overlaps) implements Serializable {}

    /** Where both sides' weights are and what is compared. */
    public record Settings(String base, String finetuned, Integer headsOverride, Side side, int rank) implements Serializable {}

    private final Settings s;
    private final SerializableConf conf;
    private final Broadcast<LoraAdapter> adapter; // null with --finetuned
    private final CodingContext coding;           // null without --concepts
    private final Broadcast<JointSpace> jointBase;
    private final Broadcast<JointSpace> jointFt;
    private final LongAccumulator headsDone;
    private final LongAccumulator products;

    public DiffTask(Settings s, SerializableConf conf, Broadcast<LoraAdapter> adapter, CodingContext coding, Broadcast<JointSpace> jointBase,
                    Broadcast<JointSpace> jointFt, LongAccumulator headsDone, LongAccumulator products) {
        this.s = s;
        this.conf = conf;
        this.adapter = adapter;
        this.coding = coding;
        this.jointBase = jointBase;
        this.jointFt = jointFt;
        this.headsDone = headsDone;
        this.products = products;
    }

    @Override
    public Iterator<Out> call(Iterator<HeadBatch> batches) throws Exception {
        List<Out> out = new ArrayList<>();
        try (ClipCheckpoint base = ClipCheckpoint.open(s.base(), conf.get(), s.headsOverride());
             VisionWeights ft = adapter != null ? new AdaptedCheckpoint(ClipCheckpoint.open(s.base(), conf.get(), s.headsOverride()), adapter.value())
                     : ClipCheckpoint.open(s.finetuned(), conf.get(), s.headsOverride())) {
            if (coding == null) {
                while (batches.hasNext()) out.addAll(batch(base, ft, batches.next(), null));
            } else {
                coding.withCoder(coder -> {
                    long before = coder.products();
                    while (batches.hasNext()) out.addAll(batch(base, ft, batches.next(), coder));
                    products.add(coder.products() - before);
                    return null;
                });
            }
        }
        return out.iterator();
    }

    private List<Out> batch(VisionWeights base, VisionWeights ft, HeadBatch b, SparseCoder coder) {
        List<HeadBasis[]> bases = new ArrayList<>();
        List<HeadDiff> diffs = new ArrayList<>();
        compare(base, ft, b, bases, diffs);
        ConceptOverlap[][] overlaps = new ConceptOverlap[diffs.size()][];
        if (coder != null) explain(bases, diffs, coder, overlaps);
        List<Out> out = new ArrayList<>();
        for (int i = 0; i < diffs.size(); i++) out.add(new Out(diffs.get(i), overlaps[i]));
        headsDone.add(b.size());
        return out;
    }

    /** Reads each layer's weights of both sides once for all of its heads in the batch. */
    private void compare(VisionWeights base, VisionWeights ft, HeadBatch b, List<HeadBasis[]> bases, List<HeadDiff> diffs) {
        LayerHeads.Cursor cb = new LayerHeads.Cursor(base);
        LayerHeads.Cursor cf = new LayerHeads.Cursor(ft);
        int dh = base.headDim();
        for (HeadId h : b.heads()) {
            VoFactors fb = cb.at(h.layer()).factors(h.head());
            VoFactors ff = cf.at(h.layer()).factors(h.head());
            HeadBasis bb = HeadBasis.compute(fb, dh);
            HeadBasis bf = HeadBasis.compute(ff, dh);
            diffs.add(HeadDiff.compute(fb, bb, ff, bf, s.rank(), s.side()));
            bases.add(new HeadBasis[] {bb.top(s.rank()), bf.top(s.rank())});
        }
    }

    /**
     * Explains both sides' vectors, each in its own joint space, in one product of both sides' rows, and compares every
     * fine-tuned vector's concepts with its match's.
     */
    private void explain(List<HeadBasis[]> bases, List<HeadDiff> diffs, SparseCoder coder, ConceptOverlap[][] overlaps) {
        List<HeadBasis> all = new ArrayList<>();
        List<JointSpace> joints = new ArrayList<>();
        for (HeadBasis[] pair : bases) {
            all.add(pair[0]);
            joints.add(jointBase.value());
        }
        for (HeadBasis[] pair : bases) {
            all.add(pair[1]);
            joints.add(jointFt.value());
        }
        var cod = coding.coding();
        List<ExplainedVector> e = Explainer.explain(all, joints, s.side(), coder, cod.method(), cod.k(), cod.effectiveLambda(), new long[3]);
        int rank = s.rank();
        int ftStart = bases.size() * rank;
        for (int h = 0; h < diffs.size(); h++) {
            int[] match = diffs.get(h).match();
            overlaps[h] = new ConceptOverlap[rank];
            for (int j = 0; j < rank; j++) {
                overlaps[h][j] = ConceptOverlap.of(e.get(ftStart + h * rank + j).code(), e.get(h * rank + match[j]).code(), coding.dictionary());
            }
        }
    }
}
