package org.sith.jobs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.analysis.Relevance;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.ClipText;
import org.sith.concepts.ConceptDictionary;
import org.sith.io.Fs;
import org.sith.io.TextLines;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.Workspace;

/** The edits a concept query selects (SPEC §8): relevance of every explained vector to the query texts. */
final class QueryEdits {
    private QueryEdits() {}

    static List<EditJob.Edit> select(SparkSession spark, EditJob.Params p, ClipCheckpoint ck, Map<String, Row> explained) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<String> texts = queries(p.query(), conf);
        float[][] q = embedQueries(p, conf, texts, ck.projDim());
        ConceptDictionary dict = Inputs.concepts(spark, p.concepts(), p.vocab(), ck.projDim());
        Map<Integer, Integer> rowOfId = new HashMap<>();
        for (int r = 0; r < dict.size(); r++) rowOfId.put(dict.id(r), r);
        double maxR = Double.NEGATIVE_INFINITY;
        List<EditJob.Edit> edits = new ArrayList<>();
        for (Map.Entry<String, Row> e : new TreeMap<>(explained).entrySet()) {
            Row x = e.getValue();
            List<Row> cs = x.getList(0);
            double[] w = new double[cs.size()];
            float[][] emb = new float[cs.size()][];
            for (int k = 0; k < cs.size(); k++) {
                Integer row = rowOfId.get(cs.get(k).getInt(0));
                if (row == null) {
                    throw new UserInputException("--explanations uses concept id " + cs.get(k).getInt(0) + " ('" + cs.get(k).getString(1)
                            + "'), which --concepts " + p.concepts() + " does not have: they belong to different dictionaries");
                }
                w[k] = cs.get(k).getDouble(2);
                emb[k] = dict.rawEmbedding(row);
            }
            double r = Relevance.of(w, emb, q);
            maxR = Math.max(maxR, r);
            int l = x.getInt(1), h = x.getInt(2), sv = x.getInt(3);
            if (l >= ck.layers() || h >= ck.heads() || sv >= ck.headDim()) {
                throw new UserInputException("--explanations has layer " + l + " head " + h + " sv " + sv + ", outside checkpoint " + p.checkpoint());
            }
            if (p.amplify()) edits.add(new EditJob.Edit(l, h, sv, Relevance.amplify(r, p.alphaMin(), p.beta()), r));
            else if (r >= p.threshold()) edits.add(new EditJob.Edit(l, h, sv, 0.0, r));
        }
        if (edits.isEmpty()) {
            throw new UserInputException(String.format(Locale.ROOT, "no explained vector reaches relevance --threshold %s for the query (the largest is %.4f)",
                    p.threshold(), maxR));
        }
        return edits;
    }

    /** --query: a file of texts (one a line) when it names an existing file, else the text itself. */
    static List<String> queries(String query, Configuration conf) {
        if (Fs.exists(query, conf) && !query.isBlank()) {
            List<String> out = new ArrayList<>();
            for (String s : TextLines.read(query, conf, "--query " + query)) if (!s.isBlank()) out.add(s.strip());
            if (out.isEmpty()) throw new UserInputException("--query " + query + " lists no text");
            return out;
        }
        if (query.isBlank()) throw new UserInputException("--query is empty");
        return List.of(query);
    }

    private static float[][] embedQueries(EditJob.Params p, Configuration conf, List<String> texts, int projDim) {
        ClipTokenizer tok = Inputs.tokenizer(p.bpe(), p.checkpoint(), conf);
        try (ClipText t = ClipText.open(p.checkpoint(), conf, null, null)) {
            TextTower tower = TextTower.load(t);
            if (tower.projDim() != projDim) throw new UserInputException("checkpoint " + p.checkpoint() + ": text and image projections differ in width");
            List<int[]> seqs = new ArrayList<>();
            for (String s : texts) seqs.add(tok.encode(s, tower.contextLength()));
            return tower.embed(seqs, 512, new Workspace());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
