package org.sith.concepts;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.io.Npy;
import org.sith.io.TextLines;
import org.sith.linalg.Vec;

/**
 * The concept pool: text embeddings of concept strings, prepared as dictionary atoms
 * {@code D = rownorm(rownorm(E) - mean_rows(rownorm(E)))}.
 *
 * <p>Centering removes the direction all CLIP text embeddings share, which would otherwise dominate
 * every explanation. Exact duplicate strings are dropped (first wins) before the mean is taken so a
 * repeated concept does not pull the mean towards itself. Holds only arrays and strings because
 * Spark broadcasts it.
 */
public final class ConceptDictionary implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Unit rows closer than this to the mean have no direction left after centering. */
    private static final double CENTERED_ZERO = 1e-6;

    private final String source;
    private final int p;
    private final int[] ids;
    private final String[] concepts;
    /** Driver-side only: executors need the prepared atoms, and a broadcast of both would double its size. */
    private final transient float[] raw;
    private final float[] atoms;
    private final double[] mean;
    private final String[] dropped;
    private final String fingerprint;

    private ConceptDictionary(String source, int p, int[] ids, String[] concepts, float[] raw, float[] atoms,
                              double[] mean, String[] dropped) {
        this.source = source;
        this.p = p;
        this.ids = ids;
        this.concepts = concepts;
        this.raw = raw;
        this.atoms = atoms;
        this.mean = mean;
        this.dropped = dropped;
        this.fingerprint = computeFingerprint();
    }

    /**
     * Builds the dictionary from rows in the caller's order. {@code ids} are the caller's concept ids
     * (what every output refers to); {@code embeddings} is N×p row-major and is kept (as the raw rows) when
     * no duplicate is dropped, so the caller must not change it afterwards; {@code source} names the
     * input in messages ("concepts SOURCE: ...").
     */
    public static ConceptDictionary fromRows(int[] ids, String[] concepts, float[] embeddings, int p, String source) {
        String label = "concepts " + source;
        int n = concepts.length;
        if (p <= 0) throw new UserInputException(label + ": embedding width must be positive, got " + p);
        if (ids.length != n) {
            throw new UserInputException(label + ": " + ids.length + " ids but " + n + " concept strings");
        }
        if ((long) n * p != embeddings.length) {
            throw new UserInputException(label + ": " + n + " concepts need " + ((long) n * p)
                    + " embedding values (" + n + "×" + p + ") but there are " + embeddings.length);
        }
        if (n == 0) throw new UserInputException(label + ": no concepts");

        Map<Integer, Integer> rowOfId = new HashMap<>();
        double[] norms = new double[n];
        for (int r = 0; r < n; r++) {
            if (concepts[r] == null) throw new UserInputException(label + ": " + rowName(r, ids) + " has no concept string");
            Integer prev = rowOfId.putIfAbsent(ids[r], r);
            if (prev != null) {
                throw new UserInputException(label + ": id " + ids[r] + " appears at rows " + prev + " and " + r);
            }
            norms[r] = checkRaw(label, embeddings, r, p, ids, concepts);
        }

        // Duplicates go first so that the mean is over the kept rows only.
        Map<String, Integer> firstRow = new HashMap<>();
        List<String> dropped = new ArrayList<>();
        int[] keep = new int[n];
        int kept = 0;
        for (int r = 0; r < n; r++) {
            Integer first = firstRow.putIfAbsent(concepts[r], r);
            if (first == null) {
                keep[kept++] = r;
            } else {
                dropped.add(rowName(r, ids) + " '" + concepts[r] + "' duplicates " + rowName(first, ids));
            }
        }

        int[] keptIds = new int[kept];
        String[] keptConcepts = new String[kept];
        // Without duplicates the kept rows are the caller's array itself (not copied: the caller hands it over).
        float[] keptRaw = kept == n ? embeddings : new float[kept * p];
        double[] mean = new double[p];
        // The unit rows e/‖e‖ are not stored (N×p doubles): each pass divides again, the same double each time.
        for (int k = 0; k < kept; k++) {
            int r = keep[k];
            keptIds[k] = ids[r];
            keptConcepts[k] = concepts[r];
            if (keptRaw != embeddings) System.arraycopy(embeddings, r * p, keptRaw, k * p, p);
            double norm = norms[r];
            for (int j = 0; j < p; j++) mean[j] += embeddings[r * p + j] / norm;
        }
        for (int j = 0; j < p; j++) mean[j] /= kept;

        float[] atoms = new float[kept * p];
        double[] centered = new double[p];
        for (int k = 0; k < kept; k++) {
            int r = keep[k];
            double unitNorm = norms[r];
            double ss = 0;
            for (int j = 0; j < p; j++) {
                centered[j] = embeddings[r * p + j] / unitNorm - mean[j];
                ss += centered[j] * centered[j];
            }
            double norm = Math.sqrt(ss);
            if (!(norm > CENTERED_ZERO)) {
                throw new UserInputException(label + ": " + rowName(r, ids) + " ('" + concepts[r]
                        + "') is zero after centering (it equals the mean of the normalized rows"
                        + (kept == 1 ? "; a single concept cannot be centered)" : ")"));
            }
            for (int j = 0; j < p; j++) atoms[k * p + j] = (float) (centered[j] / norm);
        }
        return new ConceptDictionary(source, p, keptIds, keptConcepts, keptRaw, atoms, mean,
                dropped.toArray(new String[0]));
    }

    /**
     * Loads an N×p or p×N {@code .npy} of embeddings and a UTF-8 vocabulary with one concept per
     * line in row order. A square array is taken as N×p. Ids are row indices.
     */
    public static ConceptDictionary fromNpy(String npyPath, String vocabPath, Configuration conf, int expectedP) {
        String label = "concepts " + npyPath;
        Npy.NpyArray a = Npy.read("concepts", npyPath, conf);
        if (a.shape().length != 2) {
            throw new UserInputException(label + ": need a 2-D array of embeddings, got shape ("
                    + a.shape()[0] + ",)");
        }
        int r0 = (int) a.shape()[0], r1 = (int) a.shape()[1];
        int n;
        float[] e;
        if (r1 == expectedP) {
            n = r0;
            e = a.data();
        } else if (r0 == expectedP) {
            // Some exporters store one concept per column (e.g. zero-shot classifier weights).
            n = r1;
            e = Vec.transpose(a.data(), r0, r1);
        } else {
            throw new UserInputException(label + ": shape " + r0 + "×" + r1
                    + " matches neither axis of the model's p=" + expectedP);
        }
        String[] vocab = readVocabulary(vocabPath, conf);
        if (vocab.length != n) {
            throw new UserInputException(label + " has " + n + " concept rows but vocabulary " + vocabPath
                    + " has " + vocab.length + " lines");
        }
        int[] ids = new int[n];
        for (int r = 0; r < n; r++) ids[r] = r;
        return fromRows(ids, vocab, e, expectedP, npyPath);
    }

    /** One concept per line, UTF-8; a trailing '\r' is stripped; blank lines are refused. */
    static String[] readVocabulary(String vocabPath, Configuration conf) {
        String label = "vocabulary " + vocabPath;
        String[] lines = TextLines.read(vocabPath, conf, label);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                throw new UserInputException(label + ": line " + (i + 1) + " is blank");
            }
        }
        return lines;
    }

    /** Checks row {@code r} (finite, not zero) and returns its norm. */
    private static double checkRaw(String label, float[] e, int r, int p, int[] ids, String[] concepts) {
        for (int j = 0; j < p; j++) {
            if (!Float.isFinite(e[r * p + j])) {
                throw new UserInputException(label + ": " + rowName(r, ids) + " ('" + concepts[r]
                        + "') has a non-finite value at column " + j);
            }
        }
        double norm = norm(e, r * p, p);
        if (norm == 0) {
            throw new UserInputException(label + ": " + rowName(r, ids) + " ('" + concepts[r] + "') is zero");
        }
        return norm;
    }

    /** "row 17", plus the caller's id when it is not the row index, so either can be looked up. */
    private static String rowName(int r, int[] ids) {
        return ids[r] == r ? "row " + r : "row " + r + " (id " + ids[r] + ")";
    }

    private static double norm(float[] e, int off, int p) {
        double ss = 0;
        for (int j = 0; j < p; j++) ss += (double) e[off + j] * e[off + j];
        return Math.sqrt(ss);
    }


    /** How {@link #fingerprint()} is computed, for `_run.json`. */
    public static final String FINGERPRINT = "sha256 of p, N and each kept concept's id, UTF-8 string and raw float32 embedding (big-endian), in order";

    private String computeFingerprint() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer head = ByteBuffer.allocate(8).putInt(p).putInt(ids.length);
            md.update(head.array());
            ByteBuffer row = ByteBuffer.allocate(4 * p);
            for (int k = 0; k < ids.length; k++) {
                byte[] s = concepts[k].getBytes(StandardCharsets.UTF_8);
                // Lengths make the byte stream unambiguous: ("ab","c") must differ from ("a","bc").
                md.update(ByteBuffer.allocate(8).putInt(ids[k]).putInt(s.length).array());
                md.update(s);
                row.clear();
                for (int j = 0; j < p; j++) row.putInt(Float.floatToRawIntBits(raw[k * p + j]));
                md.update(row.array());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Number of kept concepts (after dropping duplicates). */
    public int size() {
        return ids.length;
    }

    public int dim() {
        return p;
    }

    /** Prepared atoms D, kept rows, row-major size()×dim(). Shared, not copied: do not modify. */
    public float[] atoms() {
        return atoms;
    }

    public int id(int row) {
        return ids[row];
    }

    public String concept(int row) {
        return concepts[row];
    }

    public float[] rawEmbedding(int row) {
        if (raw == null) throw new IllegalStateException("raw embeddings are not shipped to executors");
        return Arrays.copyOfRange(raw, row * p, (row + 1) * p);
    }

    /** Mean of the normalized raw rows over the kept concepts (what centering subtracted). */
    public double[] meanNormalized() {
        return mean.clone();
    }

    /** One line per dropped duplicate, e.g. "row 12 'dog' duplicates row 3". */
    public List<String> droppedDuplicates() {
        return List.of(dropped);
    }

    public String source() {
        return source;
    }

    /** Hex SHA-256 over width, kept ids, strings and raw embedding bits; the same input gives the same value. */
    public String fingerprint() {
        return fingerprint;
    }
}
