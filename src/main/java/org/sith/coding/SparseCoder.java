package org.sith.coding;

import java.nio.FloatBuffer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sith.UserInputException;
import org.sith.linalg.Vec;

/**
 * Batched greedy sparse coding of many vectors over one dictionary D (n x p, unit rows).
 * Methods and their exact definitions: SPEC §5 and {@link Method}.
 *
 * <p>Each greedy step scores the whole batch against D with ONE sgemm into a preallocated
 * column-major score block (the bulk of the work); the argmax, the exact double tie-break, the
 * Gram refits and the residuals are per row, in double. Results equal those of
 * a plain double-precision coder written from the definitions (ReferenceCoder, in the tests), deterministically. Calls are serialised on
 * the coder because it reuses its work arrays (off-heap: maxBatchRows x (n + p) floats, about
 * 100 MB at 512 rows and n = 50 000).
 */
public final class SparseCoder {
    public static final int DEFAULT_MAX_BATCH_ROWS = 512;

    private final int n;
    private final int p;
    private final INDArray dict;            // the only copy of D, off-heap, reused by every call
    private final FloatBuffer dictView;
    private final double maxAtomNorm;
    private RowPool pool = new RowPool(Runtime.getRuntime().availableProcessors());
    private int maxBatchRows = DEFAULT_MAX_BATCH_ROWS;
    private Workspace full;
    private long products;
    private long productRows;
    private Workspace partial;

    public SparseCoder(float[] atoms, int n, int p) {
        if (n < 1 || p < 1 || atoms.length != (long) n * p) {
            throw new IllegalArgumentException("dictionary of " + atoms.length + " floats is not " + n + " x " + p);
        }
        this.n = n;
        this.p = p;
        this.dict = Nd4j.create(atoms, new long[] {n, p}, DataType.FLOAT);
        this.dictView = dict.data().asNioFloat();
        double m = 0;
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int c = j * p, e = c + p; c < e; c++) s += (double) atoms[c] * atoms[c];
            m = Math.max(m, s);
        }
        this.maxAtomNorm = Math.sqrt(m);
    }

    /**
     * A coder over the same off-heap dictionary with its own work arrays, so concurrent Spark tasks
     * in one executor code in parallel without a second copy of D.
     */
    public SparseCoder(SparseCoder shared) {
        this.n = shared.n;
        this.p = shared.p;
        this.dict = shared.dict;
        this.dictView = shared.dictView;
        this.maxAtomNorm = shared.maxAtomNorm;
        this.maxBatchRows = shared.maxBatchRows;
    }

    public int n() {
        return n;
    }

    public int p() {
        return p;
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

    /** Rows per sgemm; ~256–512 rows are needed to get near the GEMM roofline. */
    public synchronized void setMaxBatchRows(int rows) {
        if (rows < 1) throw new IllegalArgumentException("maxBatchRows must be positive: " + rows);
        maxBatchRows = rows;
        full = null;
        partial = null;
    }

    /** Threads for the per-row work between two products (default: all cores); results do not depend on it. */
    public synchronized void setRowThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("row threads must be positive: " + threads);
        pool = new RowPool(threads);
    }

    /** Codes every vector of xs (each of length p) with k atoms; lambda is used by COMP only. */
    public synchronized Code[] code(double[][] xs, Method method, int k, double lambda) {
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
        for (int from = 0; from < xs.length; from += chunk) {
            int to = Math.min(xs.length, from + chunk);
            codeChunk(xs, from, to, chunk, method, k, method == Method.COMP ? lambda : 0.0, out);
        }
        return out;
    }

    private void codeChunk(double[][] xs, int from, int to, int chunk, Method method, int k, double lambda, Code[] out) {
        int rows = to - from;
        Workspace ws = workspace(rows, chunk);
        RowState[] st = new RowState[rows];
        double[][] queries = new double[rows][];
        double[] queryNorm = new double[rows];
        boolean abs = method == Method.OMP;
        ArgmaxScan.Exact exact = (row, j) -> Vec.dot(queries[row], atom(j));
        pool.run(rows, 4L * p * k, (a, b) -> {
            for (int i = a; i < b; i++) {
                st[i] = new RowState(xs[from + i], k);
                setQuery(ws, i, st[i].x, queries, queryNorm);
            }
        });
        for (int t = 0; t < k; t++) {
            boolean last = t == k - 1;
            if (t == 0 || method != Method.TOPK) {   // top-k ranks every atom on the one product
                Nd4j.gemm(ws.batch, dict, ws.scores, false, true, 1.0, 0.0);
                products++;
                productRows += rows;
            }
            ws.scan.reset(rows, queryNorm, maxAtomNorm);
            pool.run(rows, n, (a, b) -> ws.scan.scan(ws.scoresView, rows, n, a, b, abs, st));
            pool.run(rows, 4L * p * (t + 2), (a, b) -> {
                for (int i = a; i < b; i++) {
                    step(st[i], ws.scan, i, method, abs, exact, queries[i]);
                    if (!last && method != Method.TOPK) setQuery(ws, i, st[i].query(lambda), queries, queryNorm);
                    if (last) out[from + i] = st[i].toCode();
                }
            });
        }
    }

    /** One greedy step of one row: its chosen atom, then the method's refit. */
    private void step(RowState s, ArgmaxScan scan, int i, Method method, boolean abs, ArgmaxScan.Exact exact, double[] query) {
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

    private void setQuery(Workspace ws, int i, double[] q, double[][] queries, double[] queryNorm) {
        queries[i] = q;
        queryNorm[i] = Math.sqrt(Vec.dot(q, q));
        for (int c = 0, off = i * p; c < p; c++) ws.batchView.put(off + c, (float) q[c]);
    }

    private int lowestUnchosen(RowState s) {
        for (int j = 0; ; j++) if (!s.contains(j)) return j;
    }

    /** Atom j in double. */
    double[] atom(int j) {
        double[] d = new double[p];
        int base = j * p;
        for (int c = 0; c < p; c++) d[c] = dictView.get(base + c);
        return d;
    }

    /** Full chunks reuse one workspace; a batch's last, shorter chunk another. */
    private Workspace workspace(int rows, int chunk) {
        if (rows == chunk) {
            if (full == null || full.rows != rows) full = new Workspace(rows, n, p);
            return full;
        }
        if (partial == null || partial.rows != rows) partial = new Workspace(rows, n, p);
        return partial;
    }

    /** Preallocated sgemm operands for one row count: batch (rows x p, 'c') and scores (rows x n, 'f'). */
    private static final class Workspace {
        final int rows;
        final INDArray batch;
        final FloatBuffer batchView;
        final INDArray scores;
        final FloatBuffer scoresView;
        final ArgmaxScan scan;

        Workspace(int rows, int n, int p) {
            this.rows = rows;
            batch = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, p}, 'c');
            batchView = batch.data().asNioFloat();
            scores = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, n}, 'f');
            scoresView = scores.data().asNioFloat();
            scan = new ArgmaxScan(rows);
        }
    }
}
