package org.sith.jobs;

import java.io.Serializable;
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
import org.sith.analysis.MlpDiff;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.LoraAdapter;
import org.sith.executor.CodingContext;
import org.sith.executor.DiffTask;
import org.sith.executor.HeadBatch;
import org.sith.executor.MlpDiffTask;
import org.sith.executor.SerializableConf;
import org.sith.heads.Component;
import org.sith.heads.JointSpace;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.ImageMeans;
import org.sith.inputs.Paths;
import org.sith.io.Fs;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.Schemas;

/**
 * `diff`: a base checkpoint against a fine-tuned one of the same architecture (either layout each),
 * or against itself with a PEFT LoRA adapter merged, head by head (SPEC §9). Heads are sharded over
 * tasks; with concepts, both sides' vectors are explained against the broadcast dictionary, in one product,
 * and each fine-tuned vector's concepts are compared with its best base match's. With {@code --component mlp}
 * (or {@code vo,mlp}, {@code all}) each selected block's MLP write matrices are compared too, a task per block,
 * into diff_mlp/ ({@link MlpDiff}; a LoRA adapter's c_proj / fc2 factors are merged for it); only the heads are
 * explained with concepts.
 */
public final class DiffJob {
    public static final String NAME = "diff";
    public static final List<String> OUTPUTS = List.of("diff_heads", "diff_vectors");
    public static final String MLP_OUTPUT = "diff_mlp";
    static final int SUMMARY_HEADS = 5;

    /** Exactly one of {@code finetuned} and {@code adapter}; {@code concepts} null: compare without explaining. */
    public record Config(String base, String finetuned, String adapter, ConceptsInput concepts, String imageMean, HeadSelection heads,
                         Coding coding, OutputTarget out, List<Component> components) implements Serializable {
        public Config {
            if (components == null) components = List.of(Component.VO);
            if (components.isEmpty()) throw new UserInputException("--component lists nothing");
            if (components.contains(Component.QK)) throw new UserInputException("--component qk: query-key circuits are not compared (vo, mlp or both)");
            components = List.copyOf(components);
            if (concepts != null && !components.contains(Component.VO)) {
                throw new UserInputException("--concepts explains the heads' vectors: it has no use with --component " + Component.label(components));
            }
            if (base == null) throw new UserInputException("diff needs --base");
            if ((finetuned == null) == (adapter == null)) {
                throw new UserInputException("give either --finetuned (a checkpoint) or --adapter (a PEFT LoRA adapter of --base)");
            }
            if (imageMean != null && concepts == null) throw new UserInputException("--image-mean is only used with --concepts");
            if (heads == null) heads = HeadSelection.DEFAULTS;
            if (coding == null) coding = Coding.DEFAULTS;
            if (out == null) throw new UserInputException("diff needs --out");
        }

        /** The head comparison alone (the paper's). */
        public Config(String base, String finetuned, String adapter, ConceptsInput concepts, String imageMean, HeadSelection heads, Coding coding,
                      OutputTarget out) {
            this(base, finetuned, adapter, concepts, imageMean, heads, coding, out, null);
        }

        boolean vo() {
            return components.contains(Component.VO);
        }

        boolean mlp() {
            return components.contains(Component.MLP);
        }

        /** diff_heads and diff_vectors for vo, diff_mlp for mlp. */
        public List<String> outputs() {
            List<String> o = new ArrayList<>();
            if (vo()) o.addAll(OUTPUTS);
            if (mlp()) o.add(MLP_OUTPUT);
            return o;
        }
    }

    /**
     * @param reweightingShare Σ_heads Σ_j (C_jj − σ_b,j)² / Σ_heads ‖M_ft − M_b‖²_F (NaN when nothing changed)
     * @param mostChanged      the heads with the largest relative change, largest first
     */
    public record Result(int heads, long vectors, double reweightingShare, List<HeadDiff> mostChanged, LoraAdapter adapter, String out,
                         List<MlpDiff> mlp) {}

    private DiffJob() {}

    /** The checks that need the checkpoints' headers but no Spark. */
    public static void preflight(Config c, Configuration conf) {
        inputsExist(c, conf);
        try (ClipCheckpoint base = ClipCheckpoint.open(c.base(), conf, c.heads().heads())) {
            c.heads().resolve(base);
            if (c.finetuned() != null) {
                try (ClipCheckpoint ft = ClipCheckpoint.open(c.finetuned(), conf, c.heads().heads())) {
                    sameArchitecture(base, ft, c);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The command line ran {@link #preflight} already; the run checks the same against the checkpoints it opens. */
    public static Result run(SparkSession spark, Config c) {
        inputsExist(c, spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, c.out(), c.outputs(), c, run -> diff(run, c));
    }

    private static void inputsExist(Config c, Configuration conf) {
        Paths.mustExist("base", c.base(), conf);
        Paths.mustExist("finetuned", c.finetuned(), conf);
        Paths.mustExist("adapter", c.adapter(), conf);
    }

    private static Result diff(JobRun run, Config c) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        LoraAdapter adapter = null;
        HeadSelection.Resolved sel;
        JointSpace jointBase = null;
        JointSpace jointFt = null;
        CodingContext coding = null;
        try (ClipCheckpoint base = ClipCheckpoint.open(c.base(), conf, c.heads().heads())) {
            sel = c.heads().resolve(base);
            run.record().param("layout_base", base.layout().name().toLowerCase(Locale.ROOT));
            double[] mean = c.concepts() == null || c.imageMean() == null ? null : ImageMeans.read(spark, c.imageMean(), base.projDim());
            if (c.adapter() != null) {
                adapter = LoraAdapter.open(c.adapter(), conf, base);
                if (adapter.touchesProjection() && c.concepts() != null) {
                    throw new UserInputException("--adapter " + c.adapter() + " adapts visual_projection: explaining the fine-tuned side "
                            + "would need the adapted joint space, which is not supported; run without --concepts");
                }
            } else {
                try (ClipCheckpoint ft = ClipCheckpoint.open(c.finetuned(), conf, c.heads().heads())) {
                    sameArchitecture(base, ft, c);
                    run.record().param("layout_finetuned", ft.layout().name().toLowerCase(Locale.ROOT));
                    if (c.concepts() != null) jointFt = JointSpace.of(ft, mean);
                }
            }
            if (c.concepts() != null) {
                jointBase = JointSpace.of(base, mean);
                if (jointFt == null) jointFt = jointBase;
                coding = CodingContext.prepare(run, c.concepts(), base.projDim(), c.coding());
            }
            run.record().param("layers", sel.layers()).param("heads", sel.heads()).param("head_dim", sel.headDim()).param("width", base.width())
                    .param("side", c.heads().side().label()).param("rank", sel.rank());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        run.record().checkpoint("base", c.base(), conf);
        if (c.finetuned() != null) run.record().checkpoint("finetuned", c.finetuned(), conf);
        if (adapter != null) {
            run.record().input("adapter", adapter.path(), conf);
            run.record().input("adapter_config", new Path(Fs.path(adapter.path()).getParent(), "adapter_config.json").toString(), conf);
        }
        if (coding != null) coding.record(run, c.imageMean());
        run.phase("prepare");

        int rank = sel.rank();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<LoraAdapter> adapterB = adapter == null ? null : jsc.broadcast(adapter);
        run.record().param("component", Component.label(c.components()));
        List<DiffTask.Out> results = new ArrayList<>();
        if (c.vo()) results = compareHeads(run, c, sel, jsc, adapterB, jointBase, jointFt, coding);
        List<MlpDiff> mlp = new ArrayList<>();
        if (c.mlp()) {
            List<Integer> layers = new ArrayList<>();
            for (int l : sel.layers()) layers.add(l);
            mlp.addAll(jsc.parallelize(layers, layers.size()).map(new MlpDiffTask(c.base(), c.finetuned(), c.heads().heads(), new SerializableConf(conf),
                    adapterB)).collect());
            mlp.sort(Comparator.comparingInt(MlpDiff::layer));
            run.phase("compare_mlp");
        }

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
                ConceptOverlap co = o.overlaps() == null ? null : o.overlaps()[j];
                vectorRows.add(RowFactory.create(h.layer(), h.head(), j, h.sigmaBase()[j], h.sigmaFt()[j], defined(h.reweight()[j]),
                        h.match()[j], h.matchCos()[j], co == null ? null : co.jaccard(),
                        co == null ? null : co.gained().toArray(new String[0]), co == null ? null : co.lost().toArray(new String[0])));
            }
        }
        if (c.vo()) {
            spark.createDataFrame(headRows, Schemas.DIFF_HEADS).coalesce(1).write().parquet(run.staged("diff_heads"));
            spark.createDataFrame(vectorRows, Schemas.DIFF_VECTORS).coalesce(1).write().parquet(run.staged("diff_vectors"));
        }
        if (c.mlp()) {
            List<Row> mlpRows = new ArrayList<>();
            for (MlpDiff m : mlp) {
                mlpRows.add(RowFactory.create(m.layer(), m.neurons(), defined(m.relChange()), defined(m.inBasis()), m.basisRank(), defined(m.diagonal()),
                        defined(m.reweighting()), defined(m.meanCos()), defined(m.minCos()), m.minCosNeuron() < 0 ? null : m.minCosNeuron(), m.changed()));
            }
            spark.createDataFrame(mlpRows, Schemas.DIFF_MLP).coalesce(1).write().parquet(run.staged(MLP_OUTPUT));
            double mlpChange = 0;
            for (MlpDiff m : mlp) mlpChange += m.changeEnergy();
            run.record().result("mlp_blocks", mlp.size()).result("mlp_change_energy", mlpChange);
            if (adapter != null) run.record().result("adapter_mlp_out_targets", adapter.mlpOutTargets());
        }
        double share = change == 0 ? Double.NaN : reweighting / change;
        List<HeadDiff> most = mostChanged(results);
        if (c.vo()) {
            run.record().result("heads", results.size()).result("vectors", vectorRows.size())
                    .result("change_energy", change).result("reweighting_share", Double.isNaN(share) ? null : share);
        }
        if (adapter != null) {
            run.record().result("adapter_head_targets", adapter.headTargets()).result("adapter_targets_without_head_effect", adapter.noEffect())
                    .result("adapter_notes", adapter.notes());
        }
        run.phase("write");
        run.commit();
        return new Result(results.size(), vectorRows.size(), share, most, adapter, run.root().toString(), mlp);
    }

    /** The head comparison of SPEC §9, heads sharded over tasks. */
    private static List<DiffTask.Out> compareHeads(JobRun run, Config c, HeadSelection.Resolved sel, JavaSparkContext jsc,
                                                  Broadcast<LoraAdapter> adapterB, JointSpace jointBase, JointSpace jointFt, CodingContext coding) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        int rank = sel.rank();
        // Without concepts a task takes a layer's heads (weights read once per layer); with them, enough heads
        // that both sides' vectors together fill about --batch-rows rows per product.
        int perBatch = coding == null ? sel.heads() : Math.max(1, (c.coding().batchRows() + 2 * rank - 1) / (2 * rank));
        List<HeadBatch> batches = HeadBatch.of(sel.all(), perBatch);

        Broadcast<JointSpace> jointBaseB = jointBase == null ? null : jsc.broadcast(jointBase);
        Broadcast<JointSpace> jointFtB = jointFt == null ? null : jsc.broadcast(jointFt);
        LongAccumulator counter = spark.sparkContext().longAccumulator("heads");
        LongAccumulator products = spark.sparkContext().longAccumulator("products");
        DiffTask task = new DiffTask(new DiffTask.Settings(c.base(), c.finetuned(), c.heads().heads(), c.heads().side(), rank),
                new SerializableConf(conf), adapterB, coding, jointBaseB, jointFtB, counter, products);
        List<DiffTask.Out> results;
        try (Progress progress = new Progress("sith diff", "heads", sel.count(), 0, counter)) {
            results = new ArrayList<>(jsc.parallelize(batches, batches.size()).mapPartitions(task).collect());
            progress.succeeded();
        }
        results.sort(Comparator.comparing((DiffTask.Out o) -> new org.sith.heads.HeadId(o.diff().layer(), o.diff().head())));
        run.phase("compare");
        if (coding != null) run.record().result("coding_products", products.value());
        return results;
    }

    /** Same width, layers and heads (and, when both sides are explained, the same joint-space width). */
    private static void sameArchitecture(ClipCheckpoint base, ClipCheckpoint ft, Config c) {
        String what = null;
        if (base.width() != ft.width()) what = "width " + ft.width() + " vs " + base.width();
        else if (base.layers() != ft.layers()) what = ft.layers() + " layers vs " + base.layers();
        else if (base.heads() != ft.heads()) what = ft.heads() + " heads vs " + base.heads();
        else if (c.concepts() != null && base.projDim() != ft.projDim()) what = "projection width " + ft.projDim() + " vs " + base.projDim();
        for (int l = 0; what == null && c.mlp() && l < base.layers(); l++) {
            if (base.mlpWidth(l) != ft.mlpWidth(l)) what = ft.mlpWidth(l) + " MLP neurons in block " + l + " vs " + base.mlpWidth(l);
        }
        if (what != null) {
            throw new UserInputException("--finetuned " + c.finetuned() + " is not the architecture of --base " + c.base() + " (" + what + ")");
        }
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
