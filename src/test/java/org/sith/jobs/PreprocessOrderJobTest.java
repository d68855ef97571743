package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.io.Npy;
import org.sith.model.VisionFixtures;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * --preprocess through the commands: `preprocess` writes Pillow's pixels (the fixtures of PreprocessOrderTest) in the
 * order the option, the checkpoint's layout or the default chose, the executors use that order (image-mean's mean
 * moves with it), and `_run.json` says which order ran and why.
 */
class PreprocessOrderJobTest extends SparkTestBase {
    static final int SIZE = 12;

    @TempDir
    static Path tmp;
    static Path fixtures;
    static Path images;
    static JsonNode manifest;
    static String openClipCkpt;
    static String hfCkpt;

    @BeforeAll
    static void inputs() throws Exception {
        try {
            fixtures = Path.of(PreprocessOrderJobTest.class.getResource("/org/sith/model/modes/manifest.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        manifest = new ObjectMapper().readTree(fixtures.resolve("manifest.json").toFile());
        images = Files.createDirectories(tmp.resolve("images"));
        for (JsonNode n : manifest.get("images")) Files.copy(fixtures.resolve(n.asText() + ".png"), images.resolve(n.asText() + ".png"));
        VisionFixtures model = VisionFixtures.random(5, SIZE, 4, 16, 1, 2, 8);
        openClipCkpt = model.writeOpenClip(tmp.resolve("oc"), false).toString();
        hfCkpt = model.writeHuggingFace(tmp.resolve("hf"), false).toString();
    }

    /** Pillow's pixels of each image in one order, by image file name. */
    static Map<String, float[]> pillow(String order) {
        Configuration conf = new Configuration();
        Npy.RowFile f = Npy.openRows("fixture", fixtures.resolve(order + "_r" + SIZE + "_c" + SIZE + ".npy").toString(), conf, 4);
        float[] all = Npy.readRows(f, conf, 0, (int) f.rows());
        Map<String, float[]> m = new HashMap<>();
        int block = 3 * SIZE * SIZE, i = 0;
        for (JsonNode n : manifest.get("images")) {
            m.put(n.asText() + ".png", Arrays.copyOfRange(all, i * block, (i + 1) * block));
            i++;
        }
        return m;
    }

    /** Runs preprocess and checks every row against Pillow's pixels of {@code order}; returns the run record. */
    static JsonNode preprocess(String out, String order, String... extra) throws Exception {
        String[] base = {"preprocess", "--images", images.toString(), "--size", Integer.toString(SIZE), "--out", out};
        String[] args = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        Run run = cli(args);
        assertEquals(0, run.status(), run.stderr());
        Configuration conf = new Configuration();
        Npy.RowFile f = Npy.openRows("pixels", out + "/pixels.npy", conf, 4);
        float[] got = Npy.readRows(f, conf, 0, (int) f.rows());
        Map<String, float[]> want = pillow(order);
        List<Row> index = spark.read().parquet(out + "/pixels_index").collectAsList();
        assertEquals(want.size(), index.size());
        int block = 3 * SIZE * SIZE;
        for (Row r : index) {
            int row = r.getInt(0);
            float[] mine = Arrays.copyOfRange(got, row * block, (row + 1) * block);
            assertTrue(Arrays.equals(want.get(r.getString(1)), mine), order + ": " + r.getString(1) + " differs from Pillow's");
        }
        return new ObjectMapper().readTree(Path.of(out, "_run.json").toFile());
    }

    @Test
    void preprocessWritesPillowsPixelsInTheChosenOrderAndRecordsIt() throws Exception {
        JsonNode dflt = preprocess(tmp.resolve("pre-default").toString(), "openclip");
        assertEquals("openclip", dflt.at("/parameters/preprocess").asText());
        assertTrue(dflt.at("/parameters/preprocess_from").asText().contains("default"), dflt.get("parameters").toString());
        assertTrue(dflt.at("/options/preprocess").isNull(), dflt.get("options").toString());

        JsonNode hf = preprocess(tmp.resolve("pre-hf").toString(), "hf", "--preprocess", "hf");
        assertEquals("hf", hf.at("/parameters/preprocess").asText());
        assertEquals("hf", hf.at("/options/preprocess").asText());
        assertEquals("--preprocess", hf.at("/parameters/preprocess_from").asText());

        JsonNode fromHfCkpt = preprocess(tmp.resolve("pre-hf-ckpt").toString(), "hf", "--checkpoint", hfCkpt);
        assertEquals("hf", fromHfCkpt.at("/parameters/preprocess").asText());
        assertTrue(fromHfCkpt.at("/parameters/preprocess_from").asText().contains("Hugging Face"), fromHfCkpt.get("parameters").toString());

        JsonNode fromOcCkpt = preprocess(tmp.resolve("pre-oc-ckpt").toString(), "openclip", "--checkpoint", openClipCkpt);
        assertTrue(fromOcCkpt.at("/parameters/preprocess_from").asText().contains("OpenCLIP"), fromOcCkpt.get("parameters").toString());
    }

    /** image-mean: the tasks preprocess in the resolved order (the mean changes with it) and the record says which. */
    @Test
    void imageMeanRunsAndRecordsTheResolvedOrder() throws Exception {
        float[] mean = null;
        for (String[] c : new String[][] {{"oc", openClipCkpt, null, "openclip"}, {"oc-hf", openClipCkpt, "hf", "hf"}, {"hf", hfCkpt, null, "hf"}}) {
            String out = tmp.resolve("mean-" + c[0]).toString();
            String size = Integer.toString(SIZE); // the HF folder has no preprocessor_config.json to say it
            Run run = c[2] == null ? cli("image-mean", "--checkpoint", c[1], "--images", images.toString(), "--size", size, "--out", out)
                    : cli("image-mean", "--checkpoint", c[1], "--images", images.toString(), "--size", size, "--preprocess", c[2], "--out", out);
            assertEquals(0, run.status(), run.stderr());
            JsonNode rec = new ObjectMapper().readTree(Path.of(out, "_run.json").toFile());
            assertEquals(c[3], rec.at("/parameters/preprocess").asText(), c[0]);
            assertEquals(c[2] == null, rec.at("/options/preprocess").isNull(), c[0]);
            float[] m = Npy.read(out + "/image_mean.npy", new Configuration()).data();
            if (mean == null) {
                mean = m;
            } else if (c[0].equals("oc-hf")) {
                assertFalse(Arrays.equals(mean, m), "the same checkpoint and images give another mean in the other order");
            }
        }
    }
}
