package org.sith.linalg;

import java.util.HashMap;
import java.util.Map;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.dnnl.dnnl_version_t;

import static org.bytedeco.dnnl.global.dnnl.*;

/**
 * bfloat16 products through oneDNN's matmul: A (m×k, bf16, row-major) · B (k×n, bf16) → C (m×n, f32,
 * row-major). B is fixed (a dictionary, a weight matrix): rounded to bf16 and reordered once into the
 * layout oneDNN's kernel prefers ({@link PackedB}), then shared read-only by any number of
 * {@link Product}s, one per thread. Row-major f32 output matters: a column-major one sends oneDNN to its
 * reference kernel (PERFORMANCE.md). Threads: oneDNN runs on its OpenMP runtime, whose team size is
 * OMP_NUM_THREADS, read when the library loads (submit.sh and conf/spark-defaults.conf set it to the
 * task's cores).
 */
public final class OneDnn {
    private static final int ALIGN = 4096;
    private static dnnl_engine engine;
    private static String loadError;

    private OneDnn() {}

    /** The CPU engine, created on first use; null with {@link #unavailable()} saying why when oneDNN cannot load. */
    private static synchronized dnnl_engine engine() {
        if (engine == null && loadError == null) {
            try {
                dnnl_engine e = new dnnl_engine();
                check(dnnl_engine_create(e, dnnl_cpu, 0), "engine");
                engine = e;
            } catch (Throwable t) {
                loadError = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return engine;
    }

    /** Why oneDNN cannot run here, or null when it can. */
    public static String unavailable() {
        engine();
        return loadError;
    }

    /** oneDNN's effective ISA bit mask (dnnl_cpu_isa_*), or -1 when it cannot load. */
    public static int isa() {
        return engine() == null ? -1 : dnnl_get_effective_cpu_isa();
    }

    /** True when oneDNN dispatches AMX tiles (the only place its bf16 beats f32). */
    public static boolean hasAmx() {
        int isa = isa();
        return isa >= 0 && (isa & dnnl_cpu_isa_avx10_1_512_amx) == dnnl_cpu_isa_avx10_1_512_amx;
    }

    /** oneDNN's name for its effective ISA. */
    public static String isaName() {
        int isa = isa();
        if (isa < 0) return "unavailable (" + loadError + ")";
        int[] codes = {dnnl_cpu_isa_avx10_2_512_amx_2, dnnl_cpu_isa_avx10_2_512, dnnl_cpu_isa_avx512_core_amx_fp16,
                dnnl_cpu_isa_avx512_core_amx, dnnl_cpu_isa_avx512_core_fp16, dnnl_cpu_isa_avx512_core_bf16,
                dnnl_cpu_isa_avx512_core_vnni, dnnl_cpu_isa_avx512_core, dnnl_cpu_isa_avx2_vnni_2, dnnl_cpu_isa_avx2_vnni,
                dnnl_cpu_isa_avx2, dnnl_cpu_isa_avx, dnnl_cpu_isa_sse41};
        String[] names = {"avx10_2_512_amx_2", "avx10_2_512", "avx512_core_amx_fp16", "avx512_core_amx", "avx512_core_fp16",
                "avx512_core_bf16", "avx512_core_vnni", "avx512_core", "avx2_vnni_2", "avx2_vnni", "avx2", "avx", "sse41"};
        for (int i = 0; i < codes.length; i++) if ((isa & codes[i]) == codes[i]) return names[i];
        return "isa " + isa;
    }

    /** oneDNN's version, "3.11.0". */
    public static String version() {
        if (engine() == null) return "unavailable";
        dnnl_version_t v = dnnl_version();
        return v.major() + "." + v.minor() + "." + v.patch();
    }

    static void check(int status, String what) {
        if (status != dnnl_success) throw new IllegalStateException("oneDNN " + what + " failed with status " + status);
    }

    private static dnnl_memory_desc desc(int type, int tag, long... dims) {
        dnnl_memory_desc md = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(md, dims.length, dims, type, tag), "memory descriptor");
        return md;
    }

    /** Off-heap bytes aligned to a page (the packed layouts want at least 64). */
    private static BytePointer aligned(long bytes) {
        BytePointer raw = new BytePointer(bytes + ALIGN);
        long pad = (ALIGN - (raw.address() % ALIGN)) % ALIGN;
        return raw.position(pad).capacity(pad + bytes);
    }

    private static dnnl_memory memory(dnnl_memory_desc md, Pointer data) {
        dnnl_memory m = new dnnl_memory();
        check(dnnl_memory_create(m, md, engine(), data), "memory");
        return m;
    }

    /** bfloat16 of f, rounded to nearest even (NaN stays NaN). */
    public static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    public static float fromBf16(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    private static dnnl_primitive_desc matmulDesc(int m, int n, int k, boolean anyWeights) {
        dnnl_memory_desc src = desc(dnnl_bf16, dnnl_ab, m, k);
        dnnl_memory_desc wei = desc(dnnl_bf16, anyWeights ? dnnl_format_tag_any : dnnl_ba, k, n);
        dnnl_memory_desc dst = desc(dnnl_f32, dnnl_ab, m, n);
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        try {
            check(dnnl_matmul_primitive_desc_create(pd, engine(), src, wei, null, dst, null), "bf16 matmul " + m + "x" + k + "x" + n);
        } finally {
            dnnl_memory_desc_destroy(src);
            dnnl_memory_desc_destroy(wei);
            dnnl_memory_desc_destroy(dst);
        }
        return pd;
    }

    private static String implementation(dnnl_primitive_desc pd) {
        PointerPointer<BytePointer> s = new PointerPointer<>(1);
        check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, s), "implementation query");
        return s.getString(0);
    }

    /**
     * B (k×n), given as the rows of Bᵀ (n rows of k floats, row-major: a dictionary's atoms, a weight
     * matrix as PyTorch stores it), rounded to bf16 and reordered once for products of up to maxRows rows.
     */
    public static final class PackedB {
        public final int n;
        public final int k;
        public final int maxRows;
        final dnnl_memory_desc packedMd;      // owned by fullPd
        final dnnl_primitive_desc fullPd;
        final BytePointer packed;
        final dnnl_memory packedMemory;
        private final String implementation;
        private final double maxRoundedNorm;
        private final double maxRoundingError;

        public PackedB(FloatPointer shared, int n, int k, int maxRows) {
            FloatPointer rowsOfBt = new FloatPointer(shared);   // a view of our own: the caller's position never moves
            if (engine() == null) throw new IllegalStateException("oneDNN is unavailable: " + loadError);
            this.n = n;
            this.k = k;
            this.maxRows = maxRows;
            long count = (long) n * k;
            ShortPointer plain = new ShortPointer(count);
            short[] row = new short[k];
            float[] f = new float[k];
            double maxNorm = 0;
            double maxErr = 0;
            for (long r = 0; r < n; r++) {
                rowsOfBt.position(r * k).get(f);
                double norm = 0;
                double err = 0;
                for (int c = 0; c < k; c++) {
                    row[c] = bf16(f[c]);
                    double h = fromBf16(row[c]);
                    norm += h * h;
                    err += (h - f[c]) * (h - f[c]);
                }
                maxNorm = Math.max(maxNorm, norm);
                maxErr = Math.max(maxErr, err);
                plain.position(r * k).put(row);
            }
            plain.position(0);
            this.maxRoundedNorm = Math.sqrt(maxNorm);
            this.maxRoundingError = Math.sqrt(maxErr);

            fullPd = matmulDesc(maxRows, n, k, true);
            implementation = OneDnn.implementation(fullPd);
            packedMd = dnnl_primitive_desc_query_md(fullPd, dnnl_query_weights_md, 0);
            packed = aligned(dnnl_memory_desc_get_size(packedMd));
            packedMemory = memory(packedMd, packed);
            dnnl_memory_desc plainMd = desc(dnnl_bf16, dnnl_ba, k, n);
            dnnl_memory plainMemory = memory(plainMd, plain);
            dnnl_primitive_desc rpd = new dnnl_primitive_desc();
            dnnl_primitive reorder = new dnnl_primitive();
            dnnl_stream stream = new dnnl_stream();
            try {
                check(dnnl_reorder_primitive_desc_create(rpd, plainMd, engine(), packedMd, engine(), null), "reorder");
                check(dnnl_primitive_create(reorder, rpd), "reorder primitive");
                check(dnnl_stream_create(stream, engine(), dnnl_stream_default_flags), "stream");
                dnnl_exec_arg_t args = new dnnl_exec_arg_t(2);
                args.position(0).arg(DNNL_ARG_FROM).memory(plainMemory);
                args.position(1).arg(DNNL_ARG_TO).memory(packedMemory);
                check(dnnl_primitive_execute(reorder, stream, 2, args.position(0)), "reorder");
                check(dnnl_stream_wait(stream), "reorder");
            } finally {
                dnnl_stream_destroy(stream);
                dnnl_primitive_destroy(reorder);
                dnnl_primitive_desc_destroy(rpd);
                dnnl_memory_destroy(plainMemory);
                dnnl_memory_desc_destroy(plainMd);
                plain.deallocate();
            }
        }

        /** oneDNN's kernel for the full-size product, e.g. "brg_matmul:avx10_1_512_amx". */
        public String implementation() {
            return implementation;
        }

        /** max over rows j of ‖b̃_j‖, b̃ the bf16 rows used in the products. */
        public double maxRoundedNorm() {
            return maxRoundedNorm;
        }

        /** max over rows j of ‖b_j − b̃_j‖ (the rounding of B to bf16). */
        public double maxRoundingError() {
            return maxRoundingError;
        }

        /** Bytes of the packed copy. */
        public long bytes() {
            return dnnl_memory_desc_get_size(packedMd);
        }
    }

    /**
     * One thread's products against a {@link PackedB}: fill {@link #input()} with rows of A in bf16,
     * {@link #run} them, read rows of C from {@link #output()}. Not thread-safe; make one per thread.
     */
    public static final class Product {
        private final PackedB b;
        private final ShortPointer input;
        private final FloatPointer output;
        private final Map<Integer, Step> steps = new HashMap<>();
        private final dnnl_stream stream = new dnnl_stream();

        /** A primitive for one row count and the memories that wrap this product's buffers. */
        private record Step(dnnl_primitive primitive, dnnl_exec_arg_t args, int rows) {}

        public Product(PackedB b) {
            this(b, new ShortPointer((long) b.maxRows * b.k), new FloatPointer((long) b.maxRows * b.n));
        }

        /**
         * A product that reads A from {@code input} and writes C to {@code output} (both at position 0, at least
         * maxRows·k and maxRows·n long): one thread's products against several matrices may share their buffers, as
         * they never run at once.
         */
        public Product(PackedB b, ShortPointer input, FloatPointer output) {
            if (input.capacity() - input.position() < (long) b.maxRows * b.k || output.capacity() - output.position() < (long) b.maxRows * b.n) {
                throw new IllegalArgumentException("buffers of " + input.capacity() + " and " + output.capacity() + " elements for "
                        + b.maxRows + " rows of " + b.k + " → " + b.n);
            }
            this.b = b;
            this.input = input;
            this.output = output;
            input.fill(0);
            check(dnnl_stream_create(stream, engine(), dnnl_stream_default_flags), "stream");
        }

        public ShortPointer input() {
            return input;
        }

        public FloatPointer output() {
            return output;
        }

        /** C[0 .. rows) = A[0 .. rows) · B. */
        public void run(int rows) {
            if (rows < 1 || rows > b.maxRows) throw new IllegalArgumentException(rows + " rows; 1.." + b.maxRows + " allowed");
            Step s = steps.get(rows);
            if (s == null) steps.put(rows, s = step(rows));
            check(dnnl_primitive_execute(s.primitive, stream, 3, s.args.position(0)), "bf16 matmul");
            check(dnnl_stream_wait(stream), "bf16 matmul");
        }

        /**
         * Destroys the primitives, memories and stream this product made (the packed B and the buffers are not its
         * to free); it must not run afterwards.
         */
        public void close() {
            java.util.Set<Step> done = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (Step s : steps.values()) {
                if (!done.add(s)) continue;
                dnnl_primitive_destroy(s.primitive);
                dnnl_memory_destroy(s.args.position(0).memory());
                dnnl_memory_destroy(s.args.position(2).memory());
            }
            steps.clear();
            dnnl_stream_destroy(stream);
        }

        /**
         * The primitive for a row count; when oneDNN would want B packed differently for it, a primitive
         * for more rows runs instead (the extra rows are computed and ignored): two for a single row,
         * which oneDNN treats as a matrix-vector product with a layout of its own, else the full size.
         */
        private Step step(int rows) {
            dnnl_primitive_desc pd = rows == b.maxRows ? b.fullPd : matmulDesc(rows, b.n, b.k, true);
            if (pd != b.fullPd && dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), b.packedMd) == 0) {
                dnnl_primitive_desc_destroy(pd);
                int more = rows == 1 ? 2 : b.maxRows;
                Step larger = steps.get(more);
                if (larger == null) steps.put(more, larger = step(more));
                return larger;
            }
            dnnl_primitive prim = new dnnl_primitive();
            check(dnnl_primitive_create(prim, pd), "bf16 matmul primitive");
            dnnl_memory src = memory(dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), input);
            dnnl_memory dst = memory(dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), output);
            if (pd != b.fullPd) dnnl_primitive_desc_destroy(pd);   // the primitive and memories keep their own copies
            dnnl_exec_arg_t args = new dnnl_exec_arg_t(3);
            args.position(0).arg(DNNL_ARG_SRC).memory(src);
            args.position(1).arg(DNNL_ARG_WEIGHTS).memory(b.packedMemory);
            args.position(2).arg(DNNL_ARG_DST).memory(dst);
            return new Step(prim, args, rows);
        }
    }
}
