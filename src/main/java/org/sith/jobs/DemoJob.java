package org.sith.jobs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.demo.DemoBpe;
import org.sith.demo.SyntheticClip;
import org.sith.heads.VectorId;
import org.sith.inputs.ConceptsInput;
import org.sith.io.Fs;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

/** `demo`: a synthetic CLIP with planted concepts, decomposed end to end, with the recovery checked. */
public final class DemoJob {
    public static final String NAME = "demo";
    public static final long DEFAULT_SEED = 7;

    private DemoJob() {}

    /** What the demo found for one planted vector. */
    public record Recovery(SyntheticClip.Plant plant, List<String> found, List<Double> weights, double fidelity, boolean recovered) {}

    public static List<Recovery> run(SparkSession spark, String out, boolean overwrite, long seed) throws java.io.IOException {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Path root = Fs.path(out);
        FileSystem fs = Fs.fs(root, conf);
        if (fs.exists(root) && fs.listStatus(root).length > 0) {
            if (!overwrite) throw new UserInputException("--out " + out + " exists and is not empty (use --overwrite to replace the demo's outputs)");
            for (String name : new String[] {"model", "concepts"}) fs.delete(new Path(root, name), true);
        }
        SyntheticClip clip = new SyntheticClip(seed);
        String model = new Path(root, "model/demo-clip.safetensors").toString();
        SafeTensorsWriter.write(model, conf, clip.tensors, Map.of("format", "pt", "sith", "synthetic demo model"));
        try (var o = fs.create(new Path(root, "model/open_clip_config.json"))) {
            o.write(clip.openClipConfig().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        String bpe = new Path(root, "model/demo-bpe.txt.gz").toString();
        DemoBpe.writeOpenAiFormat(clip.merges, bpe, conf);
        String vocab = new Path(root, "model/concepts.txt").toString();
        try (var o = fs.create(new Path(vocab))) {
            o.write((String.join("\n", clip.concepts) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        OutputTarget target = new OutputTarget(out, overwrite ? WriteMode.OVERWRITE : WriteMode.FAIL);
        // the concept embeddings come from the model's own text tower, as a user's would; everything else is the commands' defaults
        EmbedConceptsJob.run(spark, EmbedConceptsJob.Config.of(model, vocab, bpe, target));
        String concepts = new Path(root, "concepts").toString();
        DecomposeJob.run(spark, new DecomposeJob.Config(model, new ConceptsInput(concepts, null), null, HeadSelection.DEFAULTS, Coding.DEFAULTS,
                "demo-clip", target));
        return check(spark, new Path(root, "explanations").toString());
    }

    /** Reads the written explanations back and compares each planted vector's top concepts. */
    public static List<Recovery> check(SparkSession spark, String explanations) {
        Map<VectorId, Row> byKey = new LinkedHashMap<>();
        for (Row r : spark.read().parquet(explanations).select("layer", "head", "sv", "concepts", "fidelity").collectAsList()) {
            byKey.put(new VectorId(r.getInt(0), r.getInt(1), r.getInt(2)), r);
        }
        List<Recovery> out = new ArrayList<>();
        for (SyntheticClip.Plant p : SyntheticClip.PLANTS) {
            Row r = byKey.get(new VectorId(p.layer(), p.head(), p.sv()));
            List<String> found = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (Row c : r.<Row>getList(3)) {
                found.add(c.getString(1));
                weights.add(c.getDouble(2));
            }
            Set<String> top = new HashSet<>(found.subList(0, Math.min(found.size(), p.concepts().length)));
            boolean ok = top.equals(new HashSet<>(List.of(p.concepts())));
            out.add(new Recovery(p, found, weights, r.getDouble(4), ok));
        }
        return out;
    }

    public static String table(List<Recovery> rs) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-5s %-4s %-3s %-8s %-46s %s%n", "layer", "head", "sv", "fidelity", "planted", "explanation (concept weight, weight-descending)"));
        for (Recovery r : rs) {
            StringBuilder e = new StringBuilder();
            for (int i = 0; i < r.found().size(); i++) {
                if (r.weights().get(i) < 0.005) continue; // zero-weight atoms: selected, then dropped by NNLS
                if (e.length() > 0) e.append(", ");
                e.append(r.found().get(i)).append(String.format(Locale.ROOT, " %.2f", r.weights().get(i)));
            }
            b.append(String.format(Locale.ROOT, "%5d %4d %3d %8.3f %-46s %s %s%n", r.plant().layer(), r.plant().head(), r.plant().sv(),
                    r.fidelity(), String.join(" + ", r.plant().concepts()), r.recovered() ? "✓" : "✗", e));
        }
        long ok = rs.stream().filter(Recovery::recovered).count();
        b.append(String.format(Locale.ROOT, "%nplanted concepts recovered: %d/%d%n", ok, rs.size()));
        return b.toString();
    }
}
