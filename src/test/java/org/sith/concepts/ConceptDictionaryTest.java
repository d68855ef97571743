package org.sith.concepts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.TestData;
import org.sith.UserInputException;
import org.sith.io.Npy;

import com.fasterxml.jackson.databind.ObjectMapper;

class ConceptDictionaryTest {
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    private static float[] randomMatrix(int n, int p, long seed) {
        Random rnd = new Random(seed);
        float[] e = new float[n * p];
        // An offset shared by all rows, like the common direction of CLIP text embeddings.
        for (int i = 0; i < e.length; i++) e[i] = (float) (rnd.nextGaussian() + 0.7 * (i % p) / p);
        return e;
    }

    private static int[] range(int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        return ids;
    }

    /** The SPEC written out plainly over the rows {@code keep}: normalize, subtract the mean, normalize. */
    private static double[][] expectedAtoms(float[] e, int p, int[] keep, double[] meanOut) {
        int n = keep.length;
        double[][] u = new double[n][p];
        for (int k = 0; k < n; k++) {
            double ss = 0;
            for (int j = 0; j < p; j++) ss += (double) e[keep[k] * p + j] * e[keep[k] * p + j];
            for (int j = 0; j < p; j++) u[k][j] = e[keep[k] * p + j] / Math.sqrt(ss);
        }
        for (int j = 0; j < p; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += u[k][j];
            meanOut[j] = s / n;
        }
        double[][] d = new double[n][p];
        for (int k = 0; k < n; k++) {
            double ss = 0;
            for (int j = 0; j < p; j++) ss += (u[k][j] - meanOut[j]) * (u[k][j] - meanOut[j]);
            for (int j = 0; j < p; j++) d[k][j] = (u[k][j] - meanOut[j]) / Math.sqrt(ss);
        }
        return d;
    }

    private static void assertAtoms(double[][] want, ConceptDictionary d) {
        int p = d.dim();
        assertEquals(want.length * p, d.atoms().length);
        for (int k = 0; k < want.length; k++) {
            double ss = 0;
            for (int j = 0; j < p; j++) {
                assertEquals(want[k][j], d.atoms()[k * p + j], 1e-6, "atom " + k + "," + j);
                ss += (double) d.atoms()[k * p + j] * d.atoms()[k * p + j];
            }
            assertEquals(1.0, Math.sqrt(ss), 1e-6, "atom row " + k + " is unit");
        }
    }

    @Test
    void preparesCenteredUnitAtoms() {
        int n = 9, p = 6;
        float[] e = randomMatrix(n, p, 11);
        String[] c = new String[n];
        for (int i = 0; i < n; i++) c[i] = "concept " + i;
        ConceptDictionary d = ConceptDictionary.fromRows(range(n), c, e, p, "/x/e.npy");

        double[] mean = new double[p];
        assertAtoms(expectedAtoms(e, p, range(n), mean), d);
        assertArrayEquals(mean, d.meanNormalized(), 1e-12);
        assertEquals(n, d.size());
        assertEquals(p, d.dim());
        assertEquals("/x/e.npy", d.source());
        assertTrue(d.droppedDuplicates().isEmpty());
        for (int r = 0; r < n; r++) {
            assertEquals(r, d.id(r));
            assertEquals("concept " + r, d.concept(r));
            for (int j = 0; j < p; j++) assertEquals(e[r * p + j], d.rawEmbedding(r)[j]);
        }
        // Centering really removed the shared direction: the centered rows sum to zero.
        for (int j = 0; j < p; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) {
                double norm = 0;
                for (int t = 0; t < p; t++) norm += (double) e[r * p + t] * e[r * p + t];
                s += e[r * p + j] / Math.sqrt(norm) - d.meanNormalized()[j];
            }
            assertEquals(0, s, 1e-12);
        }
    }

    @Test
    void duplicatesAreDroppedFirstWinsBeforeTheMean() {
        int n = 7, p = 5;
        float[] e = randomMatrix(n, p, 3);
        String[] c = {"dog", "cat", "Dog", "dog", "dog ", "cat", "bird"};
        int[] ids = {100, 101, 102, 103, 104, 105, 106};
        ConceptDictionary d = ConceptDictionary.fromRows(ids, c, e, p, "src");

        int[] keep = {0, 1, 2, 4, 6};
        double[] mean = new double[p];
        assertAtoms(expectedAtoms(e, p, keep, mean), d);
        assertArrayEquals(mean, d.meanNormalized(), 1e-12);
        assertEquals(List.of("row 3 (id 103) 'dog' duplicates row 0 (id 100)",
                "row 5 (id 105) 'cat' duplicates row 1 (id 101)"), d.droppedDuplicates());
        assertEquals(5, d.size());
        for (int k = 0; k < keep.length; k++) {
            assertEquals(ids[keep[k]], d.id(k));
            assertEquals(c[keep[k]], d.concept(k));
            assertEquals(e[keep[k] * p], d.rawEmbedding(k)[0]);
        }
    }

    @Test
    void duplicateReportUsesPlainRowsWhenIdsAreRowIndices() {
        float[] e = randomMatrix(4, 3, 5);
        ConceptDictionary d = ConceptDictionary.fromRows(range(4), new String[] {"a", "b", "c", "a"}, e, 3, "s");
        assertEquals(List.of("row 3 'a' duplicates row 0"), d.droppedDuplicates());
    }

    private static UserInputException rowsError(String[] c, float[] e, int p) {
        return assertThrows(UserInputException.class,
                () -> ConceptDictionary.fromRows(range(c.length), c, e, p, "/x/e.npy"));
    }

    @Test
    void zeroAndNonFiniteRowsNameRowAndConcept() {
        int p = 4;
        String[] c = {"a", "b", "red car", "d"};
        float[] zero = randomMatrix(4, p, 1);
        for (int j = 0; j < p; j++) zero[2 * p + j] = 0;
        assertEquals("concepts /x/e.npy: row 2 ('red car') is zero", rowsError(c, zero, p).getMessage());

        float[] nan = randomMatrix(4, p, 1);
        nan[2 * p + 1] = Float.NaN;
        assertTrue(rowsError(c, nan, p).getMessage()
                .startsWith("concepts /x/e.npy: row 2 ('red car') has a non-finite value"));

        float[] inf = randomMatrix(4, p, 1);
        inf[2 * p + 3] = Float.NEGATIVE_INFINITY;
        assertTrue(rowsError(c, inf, p).getMessage().contains("row 2 ('red car') has a non-finite value"));
    }

    @Test
    void rowEqualToTheMeanIsAnError() {
        // Same direction twice under different names: both equal the mean of the normalized rows.
        float[] e = {1, 2, 3, 2, 4, 6};
        UserInputException ex = rowsError(new String[] {"x", "y"}, e, 3);
        assertTrue(ex.getMessage().startsWith("concepts /x/e.npy: row 0 ('x') is zero after centering"),
                ex.getMessage());

        UserInputException one = rowsError(new String[] {"only"}, new float[] {1, 2, 3}, 3);
        assertTrue(one.getMessage().contains("row 0 ('only') is zero after centering"), one.getMessage());
    }

    @Test
    void inconsistentRowsAreErrors() {
        assertThrows(UserInputException.class, () -> ConceptDictionary.fromRows(
                range(2), new String[] {"a", "b"}, new float[5], 3, "s"));
        assertThrows(UserInputException.class, () -> ConceptDictionary.fromRows(
                range(3), new String[] {"a", "b"}, new float[6], 3, "s"));
        assertThrows(UserInputException.class, () -> ConceptDictionary.fromRows(
                new int[0], new String[0], new float[0], 3, "s"));
        UserInputException dupId = assertThrows(UserInputException.class, () -> ConceptDictionary.fromRows(
                new int[] {7, 7}, new String[] {"a", "b"}, randomMatrix(2, 3, 1), 3, "s"));
        assertTrue(dupId.getMessage().contains("id 7 appears at rows 0 and 1"), dupId.getMessage());
    }

    // ------------------------------------------------------------ .npy + vocabulary

    private String vocab(String name, String text) throws IOException {
        Path v = dir.resolve(name);
        Files.write(v, text.getBytes(StandardCharsets.UTF_8));
        return v.toString();
    }

    @Test
    void fromNpyReadsRowsAndDetectsTransposedFiles() throws IOException {
        int n = 5, p = 3;
        float[] e = randomMatrix(n, p, 21);
        float[] t = new float[n * p];
        for (int r = 0; r < n; r++) for (int j = 0; j < p; j++) t[j * n + r] = e[r * p + j];
        String rows = dir.resolve("rows.npy").toString();
        String cols = dir.resolve("cols.npy").toString();
        Npy.write(rows, CONF, new long[] {n, p}, e);
        Npy.write(cols, CONF, new long[] {p, n}, t);
        // CRLF line ends, a non-ASCII concept, and no final newline.
        String v = vocab("v.txt", "apple\r\nbanana\r\ncrème brûlée\r\ndate\r\nelderberry");

        ConceptDictionary a = ConceptDictionary.fromNpy(rows, v, CONF, p);
        ConceptDictionary b = ConceptDictionary.fromNpy(cols, v, CONF, p);
        double[] mean = new double[p];
        double[][] want = expectedAtoms(e, p, range(n), mean);
        assertAtoms(want, a);
        assertAtoms(want, b);
        assertEquals("crème brûlée", b.concept(2));
        assertEquals(4, b.id(4));
        for (int j = 0; j < p; j++) assertEquals(e[3 * p + j], b.rawEmbedding(3)[j]);
        assertEquals(a.fingerprint(), b.fingerprint());
        assertEquals(rows, a.source());
    }

    @Test
    void fromNpyShapeAndVocabularyErrors() throws IOException {
        String npy = dir.resolve("e.npy").toString();
        Npy.write(npy, CONF, new long[] {4, 3}, randomMatrix(4, 3, 2));
        String v4 = vocab("v4.txt", "a\nb\nc\nd\n");

        UserInputException width = assertThrows(UserInputException.class,
                () -> ConceptDictionary.fromNpy(npy, v4, CONF, 768));
        assertEquals("concepts " + npy + ": shape 4×3 matches neither axis of the model's p=768", width.getMessage());

        String v3 = vocab("v3.txt", "a\nb\nc\n");
        UserInputException count = assertThrows(UserInputException.class,
                () -> ConceptDictionary.fromNpy(npy, v3, CONF, 3));
        assertTrue(count.getMessage().contains(npy) && count.getMessage().contains(v3)
                && count.getMessage().contains("4 concept rows") && count.getMessage().contains("3 lines"),
                count.getMessage());

        String blank = vocab("blank.txt", "a\nb\n  \nd\n");
        UserInputException bl = assertThrows(UserInputException.class,
                () -> ConceptDictionary.fromNpy(npy, blank, CONF, 3));
        assertEquals("vocabulary " + blank + ": line 3 is blank", bl.getMessage());

        String empty = vocab("empty.txt", "a\n\nc\nd\n");
        assertTrue(assertThrows(UserInputException.class, () -> ConceptDictionary.fromNpy(npy, empty, CONF, 3))
                .getMessage().contains("line 2 is blank"));

        String oneD = dir.resolve("one.npy").toString();
        Npy.write(oneD, CONF, new long[] {3}, new float[] {1, 2, 3});
        assertThrows(UserInputException.class, () -> ConceptDictionary.fromNpy(oneD, v3, CONF, 3));

        Path bad = dir.resolve("bad.txt");
        Files.write(bad, new byte[] {'a', '\n', (byte) 0xff, '\n', 'c', '\n', 'd'});
        assertTrue(assertThrows(UserInputException.class,
                () -> ConceptDictionary.fromNpy(npy, bad.toString(), CONF, 3)).getMessage().contains("UTF-8"));
    }

    // ------------------------------------------------------------ fingerprint, serialization

    /** The fingerprint's byte layout written independently: width, count, then id, length, UTF-8, float bits. */
    private static String expectedFingerprint(int p, int[] ids, String[] c, float[] e) throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(buf);
        out.writeInt(p);
        out.writeInt(ids.length);
        for (int k = 0; k < ids.length; k++) {
            byte[] s = c[k].getBytes(StandardCharsets.UTF_8);
            out.writeInt(ids[k]);
            out.writeInt(s.length);
            out.write(s);
            for (int j = 0; j < p; j++) out.writeInt(Float.floatToRawIntBits(e[k * p + j]));
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : MessageDigest.getInstance("SHA-256").digest(buf.toByteArray())) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    @Test
    void fingerprintIsStableAndSensitive() throws Exception {
        int n = 4, p = 3;
        float[] e = randomMatrix(n, p, 8);
        String[] c = {"a", "b", "c", "d"};
        ConceptDictionary d = ConceptDictionary.fromRows(range(n), c, e, p, "one");
        assertEquals(expectedFingerprint(p, range(n), c, e), d.fingerprint());
        assertEquals(d.fingerprint(), ConceptDictionary.fromRows(range(n), c.clone(), e.clone(), p, "two").fingerprint());

        float[] flipped = e.clone();
        flipped[7] = Float.intBitsToFloat(Float.floatToRawIntBits(flipped[7]) ^ 1);
        assertNotEquals(d.fingerprint(), ConceptDictionary.fromRows(range(n), c, flipped, p, "one").fingerprint());
        assertNotEquals(d.fingerprint(),
                ConceptDictionary.fromRows(range(n), new String[] {"a", "b", "c", "e"}, e, p, "one").fingerprint());
        assertNotEquals(d.fingerprint(),
                ConceptDictionary.fromRows(new int[] {0, 1, 2, 4}, c, e, p, "one").fingerprint());
    }

    @Test
    void serializesCompactly() throws Exception {
        int n = 50, p = 16;
        String[] c = new String[n];
        for (int i = 0; i < n; i++) c[i] = "c" + i;
        ConceptDictionary d = ConceptDictionary.fromRows(range(n), c, randomMatrix(n, p, 4), p, "s");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(buf)) {
            out.writeObject(d);
        }
        // Two float copies, one double mean and the strings; nothing boxed.
        assertTrue(buf.size() < 2 * 4 * n * p + 8 * p + 2000, "serialized size " + buf.size());
        ConceptDictionary back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(buf.toByteArray()))) {
            back = (ConceptDictionary) in.readObject();
        }
        assertArrayEquals(d.atoms(), back.atoms());
        assertEquals(d.fingerprint(), back.fingerprint());
        assertEquals("c7", back.concept(7));
    }

    // ------------------------------------------------------------ real data

    @Test
    void loadsImagenetZeroShotWeightsAsColumns() throws Exception {
        Path realNpy = TestData.require("embeddings/imagenet_zeroshot_openai_vit-b-32.npy");
        Path realClasses = TestData.require("embeddings/imagenet_classes.json");
        String[] classes = new ObjectMapper().readValue(realClasses.toFile(), String[].class);
        assertEquals(1000, classes.length);
        String v = vocab("imagenet.txt", String.join("\n", classes) + "\n");

        ConceptDictionary d = ConceptDictionary.fromNpy(realNpy.toString(), v, CONF, 512);

        Map<String, Integer> first = new HashMap<>();
        List<String> wantDropped = new ArrayList<>();
        for (int i = 0; i < classes.length; i++) {
            Integer f = first.putIfAbsent(classes[i], i);
            if (f != null) wantDropped.add("row " + i + " '" + classes[i] + "' duplicates row " + f);
        }
        assertFalse(wantDropped.isEmpty(), "the ImageNet class list is known to repeat names");
        assertEquals(wantDropped, d.droppedDuplicates());
        assertEquals(1000 - wantDropped.size(), d.size());
        assertEquals(512, d.dim());
        for (int k = 0; k < d.size(); k++) {
            assertEquals(classes[d.id(k)], d.concept(k));
            double ss = 0;
            for (float x : d.rawEmbedding(k)) ss += (double) x * x;
            assertEquals(1.0, Math.sqrt(ss), 1e-3, "raw row " + k + " ('" + d.concept(k) + "')");
        }
    }
}
