package org.sith.jobs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sith.run.Schemas;

/**
 * The report's per-image section, from explain-images' outputs (SPEC §11): per image (the first {@code shown} by id,
 * the rest counted) its contribution rows (the top vectors by signed share, then each remaining kind summed), the
 * vectors' concepts (the row's own, else the vector's explanation from an explanations/ folder) and the image's own
 * explanation from image_explanations/. Columns are read by name; a missing optional column reads as null.
 */
final class ReportImages {
    private ReportImages() {}

    /** The summed kinds of SPEC §11 in the order the page lists them (after the ranked rows); others follow by name. */
    static final List<String> KIND_ORDER = List.of("vo_rest", "mlp_rest", "vo_bias", "out_bias", "mlp", "embed", "ln_post_bias");

    /** The section's data, or null when there is neither image_contributions/ nor image_explanations/. */
    static Map<String, Object> section(List<ReportJob.Source> contributions, List<ReportJob.Source> imageExplanations, List<ReportJob.Source> explanations,
            int shown, ReportJob.Strings concepts, ReportJob.Strings images) {
        List<ReportJob.Source> contrib = contributions == null ? List.of() : contributions;
        List<ReportJob.Source> own = imageExplanations == null ? List.of() : imageExplanations;
        if (contrib.isEmpty() && own.isEmpty()) return null;

        // the images of both tables, by id (then model); the first `shown` get a card
        Dataset<Row> keys = null;
        for (ReportJob.Source s : concat(contrib, own)) {
            Dataset<Row> k = s.df().select(opt(s.df(), "model", "string").as("model"), functions.col("image").cast("string").as("image"));
            keys = keys == null ? k : keys.unionByName(k);
        }
        keys = keys.filter(functions.col("image").isNotNull()).distinct();
        long total = keys.count();
        List<Row> first = keys.orderBy(functions.col("image"), functions.col("model").asc_nulls_first()).limit(shown).collectAsList();
        List<String> ids = first.stream().map(r -> r.getString(1)).distinct().toList();
        Column ofShown = functions.col("image").cast("string").isin(ids.toArray());

        Map<String, List<Map<String, Object>>> rowsOf = new HashMap<>();
        Map<String, String> runOf = new HashMap<>();
        List<Object[]> missing = new ArrayList<>(); // [component, layer, head, sv, row map] of rows without concepts
        for (ReportJob.Source s : contrib) {
            Dataset<Row> df = s.df();
            List<Row> rows = df.filter(ofShown).select(opt(df, "model", "string").as("model"), functions.col("image").cast("string").as("image"),
                    opt(df, "rank", "int").as("rank"), opt(df, "layer", "int").as("layer"), opt(df, "head", "int").as("head"), opt(df, "sv", "int").as("sv"),
                    functions.col("component").cast("string").as("component"), opt(df, "score", "double").as("score"),
                    functions.col("share").cast("double").as("share"), Arrays.asList(df.columns()).contains("concepts") ? functions.col("concepts")
                            : functions.lit(null).as("concepts")).collectAsList();
            Map<String, List<Row>> byImage = new LinkedHashMap<>();
            for (Row r : rows) byImage.computeIfAbsent(key(r.getString(0), r.getString(1)), x -> new ArrayList<>()).add(r);
            for (Map.Entry<String, List<Row>> e : byImage.entrySet()) {
                if (rowsOf.containsKey(e.getKey())) continue; // the first folder that has the image
                List<Row> sorted = new ArrayList<>(e.getValue());
                sorted.sort(ORDER);
                List<Map<String, Object>> out = new ArrayList<>();
                for (Row r : sorted) {
                    Map<String, Object> m = ReportJob.map("k", r.getString(6), "rank", r.get(2), "layer", r.get(3), "head", r.get(4), "sv", r.get(5),
                            "score", ReportJob.r4(r.get(7)), "share", r6(r.get(8)), "c", r.isNullAt(9) ? null : ReportJob.conceptList(r, 9, concepts));
                    if (r.isNullAt(9) && !r.isNullAt(3) && !r.isNullAt(5)) missing.add(new Object[] {r.getString(6), r.get(3), r.get(4), r.get(5), m});
                    out.add(m);
                }
                rowsOf.put(e.getKey(), out);
                runOf.put(e.getKey(), s.folder().name());
            }
        }
        joinConcepts(missing, explanations, concepts);

        Map<String, Map<String, Object>> explOf = new HashMap<>();
        for (ReportJob.Source s : own) {
            Dataset<Row> df = s.df();
            List<Row> rows = df.filter(ofShown).select(opt(df, "model", "string").as("model"), functions.col("image").cast("string").as("image"),
                    functions.col("concepts"), functions.col("fidelity").cast("double"), opt(df, "coherence", "double"), opt(df, "method", "string"),
                    opt(df, "k", "int")).collectAsList();
            for (Row r : rows) {
                explOf.putIfAbsent(key(r.getString(0), r.getString(1)), ReportJob.map("method", r.get(5), "k", r.get(6), "fid", ReportJob.r4(r.get(3)),
                        "coh", ReportJob.r4(r.get(4)), "c", r.isNullAt(2) ? List.of() : ReportJob.conceptList(r, 2, concepts)));
            }
        }

        List<Object> cards = new ArrayList<>();
        for (Row k : first) {
            String key = key(k.getString(0), k.getString(1));
            Map<String, Object> card = ReportJob.map("image", images.of(k.getString(1)), "model", k.getString(0));
            List<Map<String, Object>> rows = rowsOf.get(key);
            if (rows != null) {
                card.put("run", runOf.get(key));
                card.put("rows", rows);
                double sum = 0;
                for (Map<String, Object> r : rows) if (r.get("share") != null) sum += (Double) r.get("share");
                card.put("sum", ReportJob.r4(sum));
            }
            if (explOf.containsKey(key)) card.put("e", explOf.get(key));
            cards.add(card);
        }
        return ReportJob.map("total", total, "images", cards);
    }

    private static List<ReportJob.Source> concat(List<ReportJob.Source> a, List<ReportJob.Source> b) {
        List<ReportJob.Source> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static String key(String model, String image) {
        return (model == null ? "" : model) + "\u0000" + image;
    }

    /** The column cast to its contract type, or a typed null when the folder lacks it. */
    private static Column opt(Dataset<Row> df, String name, String type) {
        return (Arrays.asList(df.columns()).contains(name) ? functions.col(name) : functions.lit(null)).cast(type);
    }

    /** Shares keep six decimals: single vectors' shares are small. */
    static Double r6(Object v) {
        if (v == null) return null;
        double d = ((Number) v).doubleValue();
        return Double.isFinite(d) ? Math.round(d * 1e6) / 1e6 : null;
    }

    private static int kindIndex(String k) {
        int i = KIND_ORDER.indexOf(k);
        return i >= 0 ? i : KIND_ORDER.size();
    }

    private static final Comparator<Integer> NULLS_LAST = Comparator.nullsLast(Comparator.naturalOrder());
    private static final Comparator<Integer> NULLS_FIRST = Comparator.nullsFirst(Comparator.naturalOrder());

    /** Ranked rows by rank, then the summed kinds in {@link #KIND_ORDER} (others by name), then layer, head, sv. */
    static final Comparator<Row> ORDER = Comparator.<Row, Integer>comparing(r -> (Integer) r.get(2), NULLS_LAST)
            .thenComparing(r -> kindIndex(r.getString(6)))
            .thenComparing(r -> Objects.toString(r.getString(6), ""))
            .thenComparing(r -> (Integer) r.get(3), NULLS_FIRST)
            .thenComparing(r -> (Integer) r.get(4), NULLS_FIRST)
            .thenComparing(r -> (Integer) r.get(5), NULLS_FIRST);

    /**
     * Concepts of contribution rows that carry none, from the vision tower's explanations of the same vector (component,
     * layer, head, sv; MLP neurons with head null), the right side preferred; the first explanations/ folder that has it.
     */
    private static void joinConcepts(List<Object[]> missing, List<ReportJob.Source> explanations, ReportJob.Strings concepts) {
        if (missing.isEmpty() || explanations == null) return;
        StructType schema = new StructType().add("kc", DataTypes.StringType).add("kl", DataTypes.IntegerType).add("kh", DataTypes.IntegerType)
                .add("ks", DataTypes.IntegerType);
        Map<String, Object[]> wanted = new LinkedHashMap<>();
        for (Object[] m : missing) wanted.putIfAbsent(ReportJob.key(m[0], m[1], m[2], m[3]), m);
        List<Row> keyRows = wanted.values().stream().map(m -> RowFactory.create(m[0], m[1], m[2], m[3])).toList();
        Map<String, List<Object>> found = new HashMap<>();
        for (ReportJob.Source s : explanations) {
            Dataset<Row> e = Schemas.withKinds(s.df());
            Dataset<Row> k = e.sparkSession().createDataFrame(keyRows, schema);
            Column side = Arrays.asList(e.columns()).contains("side") ? functions.col("side") : functions.lit(null).cast("string");
            List<Row> rows = e.filter(functions.coalesce(functions.col("tower"), functions.lit("vision")).equalTo("vision"))
                    .join(functions.broadcast(k), functions.coalesce(functions.col("component"), functions.lit("vo")).equalTo(functions.col("kc"))
                            .and(functions.col("layer").equalTo(functions.col("kl"))).and(functions.col("head").eqNullSafe(functions.col("kh")))
                            .and(functions.col("sv").equalTo(functions.col("ks"))))
                    .select(functions.col("kc"), functions.col("kl"), functions.col("kh"), functions.col("ks"), functions.col("concepts"), side.as("side"))
                    .orderBy(functions.col("side").equalTo("right").desc_nulls_first(), functions.col("side"))
                    .collectAsList();
            for (Row r : rows) {
                String key = ReportJob.key(r.get(0), r.get(1), r.get(2), r.get(3));
                if (!found.containsKey(key) && !r.isNullAt(4)) found.put(key, ReportJob.conceptList(r, 4, concepts));
            }
        }
        for (Object[] m : missing) {
            List<Object> c = found.get(ReportJob.key(m[0], m[1], m[2], m[3]));
            if (c != null) {
                @SuppressWarnings("unchecked")
                Map<String, Object> row = (Map<String, Object>) m[4];
                row.put("c", c);
                row.put("from", "explanations");
            }
        }
    }
}
