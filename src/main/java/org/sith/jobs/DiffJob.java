package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.analysis.ConceptOverlap;
import org.sith.analysis.HeadDiff;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.LoraAdapter;
import org.sith.coding.Method;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.io.Fs;

/**
 * `diff`: a base checkpoint against a fine-tuned one of the same architecture (either layout each),
 * or against itself with a PEFT LoRA adapter merged, head by head (SPEC §9). Heads are sharded over
 * tasks; with concepts, both sides' vectors are explained against the broadcast dictionary and each
 * fine-tuned vector's concepts are compared with its best base match's.
 */
public final class DiffJob {
    public static final String NAME = "diff";
    public static final List<String> OUTPUTS = List.of("diff_heads", "diff_vectors");
    static final int SUMMARY_HEADS = 5;

    public record Params(String base, String finetuned, String adapter, String concepts, String vocab, String imageMean,
                         String layers, Integer heads, Side side, Integer rank, Method method, double lambda, int k,
                         String out, boolean overwrite, int batchRows) implements Serializable {}

    /**
     * @param reweightingShare Σ_heads Σ_j (C_jj − σ_b,j)² / Σ_heads ‖M_ft − M_b‖²_F (NaN when nothing changed)
     * @param mostChanged      the heads with the largest relative change, largest first
     */
    public record Result(int heads, long vectors, double reweightingShare, List<HeadDiff> mostChanged, LoraAdapter adapter, String out) {}

    private DiffJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        if ((p.finetuned() == null) == (p.adapter() == null)) {
            throw new UserInputException("give either --finetuned (a checkpoint) or --adapter (a PEFT LoRA adapter of --base)");
        }
        Inputs.mustExist("base", p.base(), conf);
        if (p.finetuned() != null) Inputs.mustExist("finetuned", p.finetuned(), conf);
        if (p.adapter() != null) Inputs.mustExist("adapter", p.adapter(), conf);
        if (p.vocab() != null && p.concepts() == null) throw new UserInputException("--vocab is only used with --concepts");
        if (p.imageMean() != null && p.concepts() == null) throw new UserInputException("--image-mean is only used with --concepts");
        OutputDir dir = OutputDir.prepare(p.out(), OUTPUTS, p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try {
            LoraAdapter adapter = null;
            int[] layers;
            int rank;
            int heads;
            JointSpace jointBase = null;
            JointSpace jointFt = null;
            ConceptDictionary dict = null;
            try (ClipCheckpoint base = ClipCheckpoint.open(p.base(), conf, p.heads())) {
                heads = base.heads();
                record.param("layout_base", base.layout().name().toLowerCase(Locale.ROOT));
                if (p.adapter() != null) {
                    adapter = LoraAdapter.open(p.adapter(), conf, base);
                    if (adapter.touchesProjection() && p.concepts() != null) {
                        throw new UserInputException("--adapter " + p.adapter() + " adapts visual_projection: explaining the fine-tuned side "
                                + "would need the adapted joint space, which is not supported; run without --concepts");
                    }
                } else {
                    try (ClipCheckpoint ft = ClipCheckpoint.open(p.finetuned(), conf, p.heads())) {
                        sameArchitecture(base, ft, p);
                        record.param("layout_finetuned", ft.layout().name().toLowerCase(Locale.ROOT));
                        if (p.concepts() != null) jointFt = joint(spark, ft, p);
                    }
                }
                layers = Inputs.layers(p.layers(), base.layers(), p.base());
                rank = p.rank() == null ? base.headDim() : p.rank();
                if (rank < 1 || rank > base.headDim()) {
                    throw new UserInputException("--rank " + rank + " outside 1.." + base.headDim() + " (the head width of " + p.base() + ")");
                }
                if (p.concepts() != null) {
                    jointBase = joint(spark, base, p);
                    if (jointFt == null) jointFt = jointBase;
                    dict = Inputs.dictionary(spark, NAME, p.concepts(), p.vocab(), base.projDim(), p.k());
                }
                record.param("layers", layers).param("heads", heads).param("head_dim", base.headDim()).param("width", base.width())
                        .param("side", p.side().label()).param("rank", rank);
            }
            record.input("base", p.base(), conf);
            if (p.finetuned() != null) record.input("finetuned", p.finetuned(), conf);
            if (adapter != null) {
                record.input("adapter", adapter.path(), conf);
                record.input("adapter_config", new Path(Fs.path(adapter.path()).getParent(), "adapter_config.json").toString(), conf);
            }
            if (dict != null) {
                record.input("concepts", p.concepts(), conf);
                if (p.vocab() != null) record.input("vocab", p.vocab(), conf);
                if (p.imageMean() != null) record.input("image_mean", p.imageMean(), conf);
                String label = DecomposeJob.dictionaryLabel(p.concepts(), dict);
                record.inputFingerprint("dictionary", label + " (" + dict.size() + " concepts)", dict.fingerprint(), ConceptDictionary.FINGERPRINT);
                record.param("method", Rows.methodLabel(p.method())).param("lambda", p.lambda()).param("k", p.k()).param("dictionary", label);
            }
            record.phase("prepare");

            List<long[]> all = new ArrayList<>();
            for (int l : layers) for (int h = 0; h < heads; h++) all.add(new long[] {l, h});
            // Without concepts a task takes a layer's heads (weights read once per layer); with them,
            // enough heads that both sides' vectors fill about --batch-rows rows per product.
            int perBatch = dict == null ? heads : Math.max(1, (p.batchRows() + 2 * rank - 1) / (2 * rank));
            List<HeadBatch> batches = DecomposeJob.batches(all, perBatch);

            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<LoraAdapter> adapterB = adapter == null ? null : jsc.broadcast(adapter);
            Broadcast<ConceptDictionary> dictB = dict == null ? null : jsc.broadcast(dict);
            Broadcast<JointSpace> jointBaseB = jointBase == null ? null : jsc.broadcast(jointBase);
            Broadcast<JointSpace> jointFtB = jointFt == null ? null : jsc.broadcast(jointFt);
            LongAccumulator counter = spark.sparkContext().longAccumulator("heads");
            DiffTask task = new DiffTask(p, rank, new SerializableConf(conf), adapterB, dictB, jointBaseB, jointFtB, counter);
            List<DiffTask.Out> results;
            try (Progress progress = new Progress("sith diff", "heads", all.size(), 0, counter)) {
                results = new ArrayList<>(jsc.parallelize(batches, batches.size()).mapPartitions(task).collect());
                progress.succeeded();
            }
            results.sort(Comparator.comparingInt((DiffTask.Out o) -> o.diff().layer()).thenComparingInt(o -> o.diff().head()));
            record.phase("compare");

            List<Row> headRows = new ArrayList<>();
            List<Row> vectorRows = new ArrayList<>();
            double change = 0;
            double reweighting = 0;
            for (DiffTask.Out o : results) {
                HeadDiff h = o.diff();
                change += h.changeEnergy();
                reweighting += h.reweightEnergy();
                headRows.add(RowFactory.create(h.layer(), h.head(), defined(h.relChange()), defined(h.inBasis()), defined(h.diagonal()), h.angles()));
                for (int j = 0; j < rank; j++) {
                    ConceptOverlap c = o.overlaps() == null ? null : o.overlaps()[j];
                    vectorRows.add(RowFactory.create(h.layer(), h.head(), j, h.sigmaBase()[j], h.sigmaFt()[j], defined(h.reweight()[j]),
                            h.match()[j], h.matchCos()[j], c == null ? null : c.jaccard(),
                            c == null ? null : c.gained().toArray(new String[0]), c == null ? null : c.lost().toArray(new String[0])));
                }
            }
            spark.createDataFrame(headRows, Schemas.DIFF_HEADS).coalesce(1).write().parquet(dir.staged("diff_heads"));
            spark.createDataFrame(vectorRows, Schemas.DIFF_VECTORS).coalesce(1).write().parquet(dir.staged("diff_vectors"));
            double share = change == 0 ? Double.NaN : reweighting / change;
            List<HeadDiff> most = mostChanged(results);
            record.result("heads", results.size()).result("vectors", vectorRows.size())
                    .result("change_energy", change).result("reweighting_share", Double.isNaN(share) ? null : share);
            if (adapter != null) {
                record.result("adapter_head_targets", adapter.headTargets()).result("adapter_targets_without_head_effect", adapter.noEffect())
                        .result("adapter_notes", adapter.notes());
            }
            record.phase("write");
            dir.commit(record.toJson());
            return new Result(results.size(), vectorRows.size(), share, most, adapter, dir.root().toString());
        } catch (IOException e) {
            dir.abort(NAME, false);
            throw new UncheckedIOException(e);
        } catch (Throwable e) {
            DecomposeJob.waitForIdle(spark);
            dir.abort(NAME, false);
            throw e;
        }
    }

    /** Same width, layers and heads (and, when both sides are explained, the same joint-space width). */
    private static void sameArchitecture(ClipCheckpoint base, ClipCheckpoint ft, Params p) {
        String what = null;
        if (base.width() != ft.width()) what = "width " + ft.width() + " vs " + base.width();
        else if (base.layers() != ft.layers()) what = ft.layers() + " layers vs " + base.layers();
        else if (base.heads() != ft.heads()) what = ft.heads() + " heads vs " + base.heads();
        else if (p.concepts() != null && base.projDim() != ft.projDim()) what = "projection width " + ft.projDim() + " vs " + base.projDim();
        if (what != null) {
            throw new UserInputException("--finetuned " + p.finetuned() + " is not the architecture of --base " + p.base() + " (" + what + ")");
        }
    }

    private static JointSpace joint(SparkSession spark, ClipCheckpoint ck, Params p) {
        double[] mean = p.imageMean() == null ? null : Inputs.imageMean(spark, p.imageMean(), ck.projDim());
        return new JointSpace(ck.lnPostWeight(), ck.lnPostBias(), ck.projection(), ck.projDim(), mean);
    }

    private static Double defined(double x) {
        return Double.isNaN(x) ? null : x;
    }

    static List<HeadDiff> mostChanged(List<DiffTask.Out> results) {
        List<HeadDiff> all = new ArrayList<>();
        for (DiffTask.Out o : results) if (!Double.isNaN(o.diff().relChange()) && o.diff().relChange() > 0) all.add(o.diff());
        all.sort(Comparator.comparingDouble((HeadDiff h) -> -h.relChange()).thenComparingInt(HeadDiff::layer).thenComparingInt(HeadDiff::head));
        return all.subList(0, Math.min(SUMMARY_HEADS, all.size()));
    }
}
