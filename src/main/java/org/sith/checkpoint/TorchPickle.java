package org.sith.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.sith.UserInputException;

/**
 * A pickle interpreter that knows only what a PyTorch state dict needs, and builds plain Java values
 * from it: nothing is imported, looked up or called. Globals are names checked against a short list
 * ({@code collections.OrderedDict}, torch's tensor and parameter rebuilders, the {@code torch.*Storage}
 * types, and TorchScript's {@code __torch__.*} class names, which are only ever instantiated empty) and
 * any other is refused by name; so are the opcodes that build arbitrary objects (INST, OBJ, EXT*,
 * NEWOBJ_EX). The pickle's own length bounds everything it can allocate.
 */
final class TorchPickle {
    /** A Python tuple. */
    record Tuple(List<Object> items) {}

    /** A global the pickle named and we allow, by module and name. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A storage the archive holds under data/KEY: dtype as safetensors spells it, and element count. */
    record Storage(String dtype, String key, long numel) {}

    /** A view of a storage: what torch._utils._rebuild_tensor_v2 would have made. */
    record Tensor(Storage storage, long offset, long[] shape, long[] stride) {}

    /** A TorchScript module object: its class name and the attributes BUILD gave it. */
    record ScriptObject(String className, Map<Object, Object> state) {}

    static final Map<String, String> STORAGE_DTYPES = Map.ofEntries(
            Map.entry("FloatStorage", "F32"), Map.entry("HalfStorage", "F16"), Map.entry("BFloat16Storage", "BF16"),
            Map.entry("DoubleStorage", "F64"), Map.entry("LongStorage", "I64"), Map.entry("IntStorage", "I32"),
            Map.entry("ShortStorage", "I16"), Map.entry("CharStorage", "I8"), Map.entry("ByteStorage", "U8"),
            Map.entry("BoolStorage", "BOOL"));
    private static final Set<String> REBUILDERS = Set.of("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter",
            "_rebuild_parameter_with_state");
    private static final int MAX_MEMO = 1 << 22;

    private static final Object MARK = new Object() {
        @Override
        public String toString() {
            return "MARK";
        }
    };

    private final String where;
    private final ByteBuffer in;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private final Map<String, Storage> storages = new LinkedHashMap<>();

    private TorchPickle(String where, byte[] pickle) {
        this.where = where;
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The value the pickle describes; {@code where} names it in errors ("checkpoint F, entry E"). */
    static Object load(String where, byte[] pickle) {
        return new TorchPickle(where, pickle).run();
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) throw bad("ends without a STOP opcode");
            int at = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> in.get(); // PROTO n
                case 0x95 -> need(8).getLong(); // FRAME: a length hint only
                case '.' -> {
                    if (stack.size() != 1 || !marks.isEmpty()) throw bad("ends with " + stack.size() + " values on its stack");
                    return stack.get(0);
                }
                case '(' -> marks.add(stack.size());
                case '0' -> pop();
                case '1' -> popMark();
                case '2' -> push(peek());
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) need(4).getInt());
                case 'K' -> push((long) (need(1).get() & 0xff));
                case 'M' -> push((long) (need(2).getShort() & 0xffff));
                case 0x8a -> push(longN(need(1).get() & 0xff));
                case 0x8b -> push(longN(length(need(4).getInt() & 0xFFFFFFFFL)));
                case 'G' -> push(ByteBuffer.wrap(bytes(8)).order(ByteOrder.BIG_ENDIAN).getDouble());
                case 'X' -> push(utf8(bytes(length(need(4).getInt() & 0xFFFFFFFFL))));
                case 0x8c -> push(utf8(bytes(need(1).get() & 0xff)));
                case 0x8d -> push(utf8(bytes(length(need(8).getLong()))));
                case 'T' -> push(new String(bytes(length(need(4).getInt())), StandardCharsets.ISO_8859_1));
                case 'U' -> push(new String(bytes(need(1).get() & 0xff), StandardCharsets.ISO_8859_1));
                case 'B' -> push(bytes(length(need(4).getInt() & 0xFFFFFFFFL)));
                case 'C' -> push(bytes(need(1).get() & 0xff));
                case 0x8e -> push(bytes(length(need(8).getLong())));
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(new ArrayList<>(popMark())));
                case 0x85 -> push(new Tuple(new ArrayList<>(List.of(pop()))));
                case 0x86 -> {
                    Object b = pop();
                    Object a = pop();
                    push(new Tuple(new ArrayList<>(java.util.Arrays.asList(a, b))));
                }
                case 0x87 -> {
                    Object c = pop();
                    Object b = pop();
                    Object a = pop();
                    push(new Tuple(new ArrayList<>(java.util.Arrays.asList(a, b, c))));
                }
                case ']', 0x8f -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark()));
                case 0x91 -> push(new ArrayList<>(popMark()));
                case 'a' -> {
                    Object v = pop();
                    list(peek(), "APPEND").add(v);
                }
                case 'e', 0x90 -> {
                    List<Object> vs = popMark();
                    list(peek(), "APPENDS").addAll(vs);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> {
                    List<Object> kv = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putAll(m, kv);
                    push(m);
                }
                case 's' -> {
                    Object v = pop();
                    Object k = pop();
                    dict(peek(), "SETITEM").put(key(k), v);
                }
                case 'u' -> {
                    List<Object> kv = popMark();
                    putAll(dict(peek(), "SETITEMS"), kv);
                }
                case 'q' -> memoize(need(1).get() & 0xff);
                case 'r' -> memoize(need(4).getInt() & 0xFFFFFFFFL);
                case 0x94 -> memoize(memo.size());
                case 'h' -> push(recall(need(1).get() & 0xff));
                case 'j' -> push(recall(need(4).getInt() & 0xFFFFFFFFL));
                case 'c' -> push(global(line(), line()));
                case 0x93 -> {
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw bad("STACK_GLOBAL on values that are not strings");
                    push(global(m, n));
                }
                case 'R' -> {
                    Object args = pop();
                    Object fn = pop();
                    push(reduce(fn, args));
                }
                case 0x81 -> {
                    Object args = pop();
                    Object cls = pop();
                    push(newObject(cls, args));
                }
                case 'b' -> {
                    Object state = pop();
                    build(peek(), state);
                }
                case 'Q' -> push(persistent(pop()));
                case 'i', 'o' -> throw bad("uses opcode " + (op == 'i' ? "INST" : "OBJ")
                        + ", which builds arbitrary objects; a state dict never needs it (offset " + at + ")");
                case 0x82, 0x83, 0x84 -> throw bad("uses the copyreg extension registry (EXT opcodes), which a state dict never needs (offset " + at + ")");
                case 0x92 -> throw bad("uses opcode NEWOBJ_EX, which a state dict never needs (offset " + at + ")");
                case 'P' -> throw bad("uses a text persistent id (PERSID); torch.save writes BINPERSID (offset " + at + ")");
                default -> throw bad("uses pickle opcode 0x" + Integer.toHexString(op) + " ('" + (op >= 32 && op < 127 ? (char) op : '?')
                        + "') at offset " + at + ", which a PyTorch state dict does not use");
            }
        }
    }

    private Object global(String module, String name) {
        String q = module + "." + name;
        if (q.equals("collections.OrderedDict")) return new Global(module, name);
        if (module.equals("torch._utils") && REBUILDERS.contains(name)) return new Global(module, name);
        if (module.equals("torch") && STORAGE_DTYPES.containsKey(name)) return new Global(module, name);
        // TorchScript's own class names (types of the saved modules); they are only ever made empty by NEWOBJ
        if ((module.equals("__torch__") || module.startsWith("__torch__.")) && name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            return new Global(module, name);
        }
        throw bad("refers to the Python global '" + q + "', which a state dict does not need; refused, nothing was run");
    }

    private Object reduce(Object fn, Object args) {
        if (!(fn instanceof Global g)) throw bad("calls a value that is not an allowed function (REDUCE on " + describe(fn) + ")");
        List<Object> a = tuple(args, g.qualified());
        switch (g.qualified()) {
            case "collections.OrderedDict" -> {
                if (!a.isEmpty()) throw bad("calls collections.OrderedDict with arguments");
                return new LinkedHashMap<>();
            }
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                if (a.size() < 4) throw bad("calls " + g.qualified() + " with " + a.size() + " arguments");
                if (!(a.get(0) instanceof Storage s)) throw bad("calls " + g.qualified() + " on " + describe(a.get(0)) + ", not a storage");
                return new Tensor(s, integer(a.get(1), "storage offset"), longs(a.get(2), "size"), longs(a.get(3), "stride"));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (a.isEmpty() || !(a.get(0) instanceof Tensor t)) throw bad("calls " + g.qualified() + " on something that is not a tensor");
                return t;
            }
            default -> throw bad("calls " + g.qualified() + ", which is not a function a state dict calls; refused, nothing was run");
        }
    }

    private Object newObject(Object cls, Object args) {
        if (!(cls instanceof Global g) || !g.module().startsWith("__torch__")) {
            throw bad("instantiates " + describe(cls) + " (NEWOBJ); only TorchScript module classes may be");
        }
        if (!tuple(args, g.qualified()).isEmpty()) throw bad("instantiates " + g.qualified() + " with arguments");
        return new ScriptObject(g.qualified(), new LinkedHashMap<>());
    }

    private void build(Object target, Object state) {
        if (target instanceof ScriptObject o) {
            if (!(state instanceof Map<?, ?> m)) throw bad("sets the state of " + o.className() + " to " + describe(state));
            for (Map.Entry<?, ?> e : m.entrySet()) o.state().put(e.getKey(), e.getValue());
        } else if (!(target instanceof Map)) {
            // an OrderedDict may carry attributes (a state dict's _metadata): kept out, as torch.load's result ignores them too
            throw bad("sets the state of " + describe(target) + " (BUILD), which a state dict never does");
        }
    }

    private Storage persistent(Object pid) {
        List<Object> t = tuple(pid, "a persistent id");
        if (t.size() != 5 || !"storage".equals(t.get(0))) throw bad("has a persistent id that is not ('storage', type, key, location, size)");
        if (!(t.get(1) instanceof Global g) || !g.module().equals("torch") || !STORAGE_DTYPES.containsKey(g.name())) {
            throw bad("has a storage of type " + describe(t.get(1)));
        }
        if (!(t.get(2) instanceof String key) || !key.matches("[0-9A-Za-z_.]{1,64}")) throw bad("has a storage key that is not a plain name");
        long numel = integer(t.get(4), "storage size");
        if (numel < 0) throw bad("has storage '" + key + "' of negative size " + numel);
        Storage s = new Storage(STORAGE_DTYPES.get(g.name()), key, numel);
        Storage prev = storages.putIfAbsent(key, s);
        if (prev != null && !prev.equals(s)) throw bad("declares storage '" + key + "' twice, as " + prev + " and " + s);
        return prev != null ? prev : s;
    }

    private static Object key(Object k) {
        if (k instanceof List || k instanceof Map) return String.valueOf(k);
        return k;
    }

    private void putAll(Map<Object, Object> m, List<Object> kv) {
        if (kv.size() % 2 != 0) throw bad("has an odd number of values for a dict");
        for (int i = 0; i < kv.size(); i += 2) m.put(key(kv.get(i)), kv.get(i + 1));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw bad(op + " on " + describe(o) + ", not a dict");
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw bad(op + " on " + describe(o) + ", not a list");
    }

    private List<Object> tuple(Object o, String what) {
        if (o instanceof Tuple t) return t.items();
        throw bad("gives " + what + " " + describe(o) + " where a tuple belongs");
    }

    private long integer(Object o, String what) {
        if (o instanceof Long l) return l;
        throw bad("gives a " + what + " that is not an integer (" + describe(o) + ")");
    }

    private long[] longs(Object o, String what) {
        List<Object> items = tuple(o, "a tensor " + what);
        if (items.size() > 16) throw bad("gives a tensor " + what + " of " + items.size() + " dimensions");
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) out[i] = integer(items.get(i), "tensor " + what);
        return out;
    }

    private long longN(int n) {
        if (n > 8) throw bad("holds an integer of " + n + " bytes, larger than any a state dict needs");
        byte[] b = bytes(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[i] & 0xff);
        if (n > 0 && n < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
        return v;
    }

    private void memoize(long index) {
        if (stack.isEmpty()) throw bad("memoizes from an empty stack");
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) throw bad("memoizes more than " + MAX_MEMO + " values");
        memo.put(index, peek());
    }

    private Object recall(long index) {
        if (!memo.containsKey(index)) throw bad("refers to memo entry " + index + ", which was never stored");
        return memo.get(index);
    }

    private String line() {
        StringBuilder b = new StringBuilder();
        while (true) {
            if (!in.hasRemaining()) throw bad("ends inside a GLOBAL name");
            byte c = in.get();
            if (c == '\n') return b.toString();
            if (b.length() > 256) throw bad("has a GLOBAL name longer than 256 characters");
            b.append((char) (c & 0xff));
        }
    }

    private int length(long n) {
        if (n < 0 || n > in.remaining()) throw bad("declares a " + n + "-byte value with only " + in.remaining() + " bytes left");
        return (int) n;
    }

    private ByteBuffer need(int n) {
        if (in.remaining() < n) throw bad("is truncated");
        return in;
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[length(n)];
        in.get(b);
        return b;
    }

    private String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw bad("has a string that is not valid UTF-8");
        }
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.get(marks.size() - 1);
        if (stack.size() <= floor) throw bad("pops from an empty stack");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        if (stack.isEmpty()) throw bad("reads an empty stack");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw bad("closes a MARK that was never opened");
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return "'" + g.qualified() + "'";
        if (o instanceof ScriptObject s) return "an object of " + s.className();
        if (o instanceof Tensor) return "a tensor";
        if (o instanceof Storage) return "a storage";
        if (o instanceof Map) return "a dict";
        if (o instanceof List) return "a list";
        if (o instanceof Tuple) return "a tuple";
        if (o instanceof String) return "a string";
        return "a " + o.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
    }

    private UserInputException bad(String what) {
        return new UserInputException(where + ": the pickle " + what);
    }
}
