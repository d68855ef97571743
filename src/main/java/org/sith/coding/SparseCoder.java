package org.sith.coding;

import java.nio.FloatBuffer;

import java.util.concurrent.atomic.LongAdder;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.sith.UserInputException;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;
import org.sith.linalg.Vec;

/**
 * Batched greedy sparse coding of many vectors over one dictionary D (n x p, unit rows).
 * Methods and their exact definitions: SPEC §5 and {@link Method}.
 *
 * <p>Each greedy step scores the whole batch against D with ONE product into a preallocated row-major
 * score block (the bulk of the work): OpenBLAS sgemm, or oneDNN's bf16 matmul against a copy of D
 * rounded and prepacked once per executor ({@link Scoring}). The block only shortlists: every atom
 * within 2E of a row's best, E a proven bound on the block's error ({@link ScoreBound}), is re-scored in
 * double and the exact argmax taken, so the selections, and everything after them (refits and residuals
 * in double), are those of a plain double-precision coder written from the definitions (ReferenceCoder,
 * in the tests), whatever the scoring path. Calls are serialised on the coder because it reuses its work
 * arrays (off-heap: maxBatchRows x (n + p) floats, about 100 MB at 512 rows and n = 50 000).
 */
public final class SparseCoder {
    public static final int DEFAULT_MAX_BATCH_ROWS = 512;

    private final Atoms atoms;              // D, shared by the coders of an executor
    private final Scoring path;             // FP32 or BF16
    private RowPool pool = new RowPool(Runtime.getRuntime().availableProcessors());
    private int maxBatchRows = DEFAULT_MAX_BATCH_ROWS;
    private Workspace ws;
    private long products;
    private long productRows;
    private final LongAdder rescoredRows = new LongAdder();
    private final LongAdder rescoredAtoms = new LongAdder();
    private final LongAdder choices = new LongAdder();
    /** Tests only: shrinks the proven bound to show that exactness depends on it (1 = the bound). */
    double boundScale = 1;

    /** D once off-heap in f32, its bf16 packed copy made on first bf16 use. */
    private static final class Atoms {
        final int n;
        final int p;
        final Gemm.Matrix f32;
        final FloatBuffer view;             // absolute reads only: shared by every thread
        final double maxAtomNorm;
        private OneDnn.PackedB packed;

        Atoms(float[] data, int n, int p) {
            this.n = n;
            this.p = p;
            this.f32 = Gemm.matrix(data, n, p);
            this.view = f32.buffer();
            double m = 0;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int c = j * p, e = c + p; c < e; c++) s += (double) data[c] * data[c];
                m = Math.max(m, s);
            }
            this.maxAtomNorm = Math.sqrt(m);
        }

        synchronized OneDnn.PackedB packed(int rows) {
            if (packed == null || packed.maxRows < rows) {
                packed = null;
                packed = new OneDnn.PackedB(f32.pointer(), n, p, rows);
            }
            return packed;
        }
    }

    /** A coder scoring by the path {@code scoring} resolves to here. */
    public SparseCoder(float[] atoms, int n, int p, Scoring scoring) {
        if (n < 1 || p < 1 || atoms.length != (long) n * p) {
            throw new IllegalArgumentException("dictionary of " + atoms.length + " floats is not " + n + " x " + p);
        }
        this.atoms = new Atoms(atoms, n, p);
        this.path = scoring.resolve();
    }

    /** A coder with the default scoring ({@link Scoring#AUTO}). */
    public SparseCoder(float[] atoms, int n, int p) {
        this(atoms, n, p, Scoring.AUTO);
    }

    /**
     * A coder over the same off-heap dictionary (and its packed copy) with its own work arrays, so
     * concurrent Spark tasks in one executor code in parallel without a second copy of D.
     */
    public SparseCoder(SparseCoder shared) {
        this.boundScale = shared.boundScale;
        this.atoms = shared.atoms;
        this.path = shared.path;
        this.maxBatchRows = shared.maxBatchRows;
    }

    public int n() {
        return atoms.n;
    }

    public int p() {
        return atoms.p;
    }

    /** FP32 or BF16: the path this coder's products take. */
    public Scoring path() {
        return path;
    }

    public int maxBatchRows() {
        return maxBatchRows;
    }

    /** The scoring products this coder has run, and their rows in all (rows per product: what the batch size bought). */
    public synchronized long products() {
        return products;
    }

    public synchronized long productRows() {
        return productRows;
    }

    /** Greedy choices made, those whose shortlist held more than one atom, and the atoms re-scored in double for them. */
    public long choices() {
        return choices.sum();
    }

    public long rescoredChoices() {
        return rescoredRows.sum();
    }

    public long rescoredAtoms() {
        return rescoredAtoms.sum();
    }

    /** Rows per product; ~256–512 rows are needed to get near the GEMM roofline. */
    public synchronized void setMaxBatchRows(int rows) {
        if (rows < 1) throw new IllegalArgumentException("maxBatchRows must be positive: " + rows);
        maxBatchRows = rows;
        ws = null;
    }

    /** Threads for the per-row work between two products (default: all cores); results do not depend on it. */
    public synchronized void setRowThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("row threads must be positive: " + threads);
        pool = new RowPool(threads);
    }

    /** Codes every vector of xs (each of length p) with k atoms; lambda is used by COMP only. */
    public synchronized Code[] code(double[][] xs, Method method, int k, double lambda) {
        int n = atoms.n;
        int p = atoms.p;
        if (k < 1) throw new IllegalArgumentException("k must be at least 1 (got " + k + ")");
        if (k > n) throw new UserInputException(k + " concepts per explanation asked, but the dictionary has only " + n);
        if (!Double.isFinite(lambda)) throw new IllegalArgumentException("lambda must be finite (got " + lambda + ")");
        for (int i = 0; i < xs.length; i++) {
            if (xs[i].length != p) {
                throw new IllegalArgumentException("vector " + i + " has length " + xs[i].length + ", the dictionary " + p);
            }
        }
        Code[] out = new Code[xs.length];
        // the score block is indexed by int: keep rows x n below 2^31
        int chunk = (int) Math.min(maxBatchRows, Integer.MAX_VALUE / n);
        if (ws == null || ws.rows != chunk) {
            ws = null;
            ws = new Workspace(chunk);
        }
        for (int from = 0; from < xs.length; from += chunk) {
            int to = Math.min(xs.length, from + chunk);
            codeChunk(xs, from, to, method, k, method == Method.COMP ? lambda : 0.0, out);
        }
        return out;
    }

    private void codeChunk(double[][] xs, int from, int to, Method method, int k, double lambda, Code[] out) {
        int n = atoms.n;
        int p = atoms.p;
        int rows = to - from;
        RowState[] st = new RowState[rows];
        double[][] queries = new double[rows][];
        boolean abs = method == Method.OMP;
        ArgmaxScan.Exact exact = (row, j) -> Vec.dot(queries[row], atom(j));
        pool.run(rows, 4L * p * k, (a, b) -> {
            for (int i = a; i < b; i++) {
                st[i] = new RowState(xs[from + i], k);
                ws.setQuery(i, st[i].x, queries);
            }
        });
        for (int t = 0; t < k; t++) {
            boolean last = t == k - 1;
            if (t == 0 || method != Method.TOPK) {   // top-k ranks every atom on the one product
                ws.product(rows);
                products++;
                productRows += rows;
            }
            ws.scan.reset(rows, ws.bound);
            pool.run(rows, n, (a, b) -> ws.scan.scan(ws.scores, n, a, b, abs, st));
            pool.run(rows, 4L * p * (t + 2), (a, b) -> {
                for (int i = a; i < b; i++) {
                    step(st[i], ws.scan, i, method, abs, exact, queries[i]);
                    if (!last && method != Method.TOPK) ws.setQuery(i, st[i].query(lambda), queries);
                    if (last) out[from + i] = st[i].toCode();
                }
            });
        }
    }

    /** One greedy step of one row: its chosen atom, then the method's refit. */
    private void step(RowState s, ArgmaxScan scan, int i, Method method, boolean abs, ArgmaxScan.Exact exact, double[] query) {
        int c = scan.candidates(i);
        choices.increment();
        if (c > 1) {
            rescoredRows.increment();
            rescoredAtoms.add(c);
        }
        int j = scan.choose(i, abs, exact);
        if (j < 0) j = lowestUnchosen(s);       // only when every score is NaN
        double[] d = atom(j);
        s.add(j, d);
        switch (method) {
            case COMP, NNOMP -> s.refitNonNegative();
            case OMP -> s.refitLeastSquares();
            case MP -> s.pursue(Math.max(0.0, Vec.dot(query, d)));
            case TOPK -> {
                if (s.size == s.ids.length) s.refitNonNegative();
            }
        }
    }

    private int lowestUnchosen(RowState s) {
        for (int j = 0; ; j++) if (!s.contains(j)) return j;
    }

    /** Atom j in double. */
    double[] atom(int j) {
        int p = atoms.p;
        float[] f = new float[p];
        atoms.view.get(j * p, f, 0, p);
        double[] d = new double[p];
        for (int c = 0; c < p; c++) d[c] = f[c];
        return d;
    }

    /**
     * The work arrays for up to {@code rows} rows per product: the rounded queries, the score block
     * (rows x n, row-major) and each row's error bound.
     */
    private final class Workspace {
        final int rows;
        final ArgmaxScan scan;
        final double[] bound;
        final FloatBuffer scores;
        private final ScoreBound scoreBound;
        private final Gemm.Matrix batch;          // f32 path
        private final Gemm.Matrix block;
        private final OneDnn.Product product;     // bf16 path

        Workspace(int rows) {
            this.rows = rows;
            this.scan = new ArgmaxScan(rows);
            this.bound = new double[rows];
            int n = atoms.n;
            if (path == Scoring.BF16) {
                OneDnn.PackedB packed = atoms.packed(rows);
                product = new OneDnn.Product(packed);
                scores = new FloatPointer(product.output()).capacity((long) rows * n).asBuffer();
                scoreBound = new ScoreBound(atoms.p, packed.maxRoundingError(), packed.maxRoundedNorm());
                batch = null;
                block = null;
            } else {
                batch = new Gemm.Matrix(rows, atoms.p);
                block = new Gemm.Matrix(rows, n);
                scores = block.buffer();
                scoreBound = new ScoreBound(atoms.p, 0, atoms.maxAtomNorm);
                product = null;
            }
        }

        /** Row i's query q: rounded into the product's input, its bound E recorded. */
        void setQuery(int i, double[] q, double[][] queries) {
            int p = atoms.p;
            queries[i] = q;
            double norm = 0;
            double err = 0;
            double rounded = 0;
            if (product != null) {
                short[] h = new short[p];
                for (int c = 0; c < p; c++) {
                    h[c] = OneDnn.bf16((float) q[c]);
                    double v = OneDnn.fromBf16(h[c]);
                    norm += q[c] * q[c];
                    err += (q[c] - v) * (q[c] - v);
                    rounded += v * v;
                }
                new ShortPointer(product.input()).position((long) i * p).put(h);
            } else {
                float[] f = new float[p];
                for (int c = 0; c < p; c++) {
                    f[c] = (float) q[c];
                    norm += q[c] * q[c];
                    err += (q[c] - f[c]) * (q[c] - f[c]);
                    rounded += (double) f[c] * f[c];
                }
                batch.buffer().put(i * p, f);
            }
            bound[i] = boundScale * scoreBound.of(Math.sqrt(norm), Math.sqrt(err), Math.sqrt(rounded));
        }

        /** scores[0 .. used) = queries · Dᵀ. */
        void product(int used) {
            if (product != null) {
                product.run(used);
            } else {
                Gemm.sgemm(true, batch.pointer(), atoms.p, atoms.f32.pointer(), atoms.p, block.pointer(), atoms.n, used, atoms.n, atoms.p);
            }
        }
    }
}
