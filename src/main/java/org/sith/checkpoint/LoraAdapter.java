package org.sith.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A PEFT LoRA adapter ({@code adapter_model.safetensors} + {@code adapter_config.json}) checked
 * against the base checkpoint it adapts. Each adapted Linear gains ΔW = s·B·A with B (out×r),
 * A (r×in) and s = alpha/r, or alpha/√r with {@code use_rslora}; {@code rank_pattern} and
 * {@code alpha_pattern} override r and alpha per module as PEFT matches them (the first key K for
 * which the module name matches {@code (.*\.)?(K)$}).
 *
 * <p>Targets are read in either naming layout, whatever the base's layout: Hugging Face
 * {@code self_attn.{q,k,v,out}_proj}, OpenCLIP {@code attn.out_proj}, and OpenCLIP's fused q;k;v
 * in-projection as PEFT's MultiheadAttention LoRA names it ({@code attn}, B with 3d rows) or as
 * {@code attn.in_proj}. Only the vision blocks' value rows and out-projections change a head's VO
 * map; q/k, MLP, text-tower and other targets are checked against the base (they must exist there
 * with the adapter's shapes) and otherwise left out of the head maps, listed by {@link #noEffect()}.
 * The vision MLP output maps' factors are kept for diff's MLP comparison ({@link #mergeMlpOut}).
 */
public final class LoraAdapter implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern KEY = Pattern.compile("^(?:base_model\\.model\\.)?(.+)\\.lora_(A|B)(?:\\.([^.]+))?\\.(weight|bias)$");
    private static final Pattern BLOCK = Pattern.compile(
            "^(vision_model\\.encoder\\.layers|visual\\.transformer\\.resblocks|text_model\\.encoder\\.layers|transformer\\.resblocks)\\.(\\d+)\\.(.+)$");

    /** The Linear of a CLIP block a target adapts. */
    enum Part { Q, K, V, QKV, OUT, MLP_IN, MLP_OUT }

    /** ΔW = scale·B·A restricted to rows [rowOffset, rowOffset + d) of B (the value rows of a fused q;k;v). */
    record Delta(String module, double scale, int r, int in, int rowOffset, float[] a, float[] b) implements Serializable {}

    private final String path;
    private final Map<Integer, List<Delta>> value = new TreeMap<>();
    private final Map<Integer, List<Delta>> out = new TreeMap<>();
    private final Map<Integer, List<Delta>> mlpOut = new TreeMap<>();
    private final List<String> noEffect = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private boolean projection;

    private LoraAdapter(String path) {
        this.path = path;
    }

    public String path() {
        return path;
    }

    /** The adapter's safetensors file of an --adapter given as a folder or as the file itself. */
    public static String weightsFile(String adapter, Configuration conf) {
        Path p = Fs.path(adapter);
        try {
            FileSystem fs = Fs.fs(p, conf);
            if (fs.getFileStatus(p).isDirectory()) {
                // PEFT saves safetensors by default, a PyTorch archive with safe_serialization=False
                Path bin = new Path(p, "adapter_model.bin");
                Path st = new Path(p, "adapter_model.safetensors");
                return (!fs.exists(st) && fs.exists(bin) ? bin : st).toString();
            }
            return adapter;
        } catch (java.io.FileNotFoundException e) {
            throw new UserInputException("adapter " + adapter + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static LoraAdapter open(String adapter, Configuration conf, ClipCheckpoint base) {
        String file = weightsFile(adapter, conf);
        Path configPath = new Path(Fs.path(file).getParent(), "adapter_config.json");
        if (!Fs.exists(file, conf)) throw new UserInputException("adapter " + adapter + ": no adapter_model.safetensors (nor adapter_model.bin) in it");
        JsonNode config = readConfig(configPath, conf);
        LoraAdapter a = new LoraAdapter(file);
        try (TensorStore st = CheckpointFile.resolve(file, conf).open(conf)) {
            a.read(st, config, configPath.toString(), base);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return a;
    }

    private static JsonNode readConfig(Path p, Configuration conf) {
        FileSystem fs = Fs.fs(p, conf);
        try {
            if (!fs.exists(p)) throw new UserInputException("adapter " + p + " is missing (the adapter's rank r and lora_alpha are read from it)");
            try (InputStream in = fs.open(p)) {
                JsonNode n = JSON.readTree(in);
                if (n == null || !n.isObject()) throw new UserInputException("adapter config " + p + ": not a JSON object");
                return n;
            }
        } catch (JsonProcessingException e) {
            throw new UserInputException("adapter config " + p + ": not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void read(TensorStore st, JsonNode config, String configPath, ClipCheckpoint base) {
        String where = "adapter config " + configPath;
        String type = config.path("peft_type").asText("LORA");
        if (!type.equalsIgnoreCase("LORA")) throw new UserInputException(where + ": peft_type " + type + " is not LORA");
        if (config.path("use_dora").asBoolean(false)) {
            throw new UserInputException(where + ": use_dora is true; a DoRA adapter is not a plain W + s·B·A merge and is not supported");
        }
        if (config.path("fan_in_fan_out").asBoolean(false)) {
            throw new UserInputException(where + ": fan_in_fan_out is true (Conv1D weights); CLIP's projections are Linear (out, in)");
        }
        int r = positive(config, "r", where);
        double alpha = number(config, "lora_alpha", where);
        boolean rslora = config.path("use_rslora").asBoolean(false);
        JsonNode rankPattern = config.path("rank_pattern");
        JsonNode alphaPattern = config.path("alpha_pattern");

        // module -> {A, B}
        Map<String, String[]> factors = new TreeMap<>();
        for (String name : st.names()) {
            Matcher m = KEY.matcher(name);
            if (!m.matches()) {
                throw new UserInputException("adapter " + st.path() + ": tensor '" + name + "' is not a LoRA factor (lora_A / lora_B); "
                        + "DoRA magnitudes, embedding LoRA and modules_to_save are not supported");
            }
            if (m.group(4).equals("bias")) {
                if (m.group(2).equals("A")) throw new UserInputException("adapter " + st.path() + ": unexpected lora_A bias '" + name + "'");
                notes.add(m.group(1) + ": lora_B bias left out (biases are not part of a head's VO map)");
                continue;
            }
            String[] f = factors.computeIfAbsent(m.group(1), k -> new String[2]);
            int i = m.group(2).equals("A") ? 0 : 1;
            if (f[i] != null) throw new UserInputException("adapter " + st.path() + ": two lora_" + m.group(2) + " tensors for module " + m.group(1));
            f[i] = name;
        }
        if (factors.isEmpty()) throw new UserInputException("adapter " + st.path() + " holds no lora_A / lora_B tensors");
        for (var e : factors.entrySet()) {
            String module = e.getKey();
            String[] f = e.getValue();
            if (f[0] == null || f[1] == null) {
                throw new UserInputException("adapter " + st.path() + ": module " + module + " has lora_" + (f[0] == null ? "B" : "A")
                        + " but no lora_" + (f[0] == null ? "A" : "B"));
            }
            long[] sa = st.shape(f[0]);
            long[] sb = st.shape(f[1]);
            int rm = patternInt(rankPattern, module, r, where, "rank_pattern");
            double am = patternNumber(alphaPattern, module, alpha, where);
            if (sa.length != 2 || sb.length != 2 || sa[0] != rm || sb[1] != rm) {
                throw new UserInputException("adapter " + st.path() + ": module " + module + " has lora_A " + TensorInfo.shapeString(sa)
                        + " and lora_B " + TensorInfo.shapeString(sb) + ", expected (" + rm + ", in) and (out, " + rm + ") for r=" + rm
                        + " from " + configPath);
            }
            double scale = rslora ? am / Math.sqrt(rm) : am / rm;
            target(st, module, f, (int) sb[0], (int) sa[1], rm, scale, base);
        }
    }

    /** Checks one target against the base and keeps it when it changes a vision head's VO map. */
    private void target(TensorStore st, String module, String[] f, int outRows, int in, int r, double scale, ClipCheckpoint base) {
        Layout layout = base.layout();
        ClipTensors bt = base.tensors();
        Matcher m = BLOCK.matcher(module);
        if (!m.matches()) {
            String name = module + ".weight";
            if (!bt.has(name)) throw notInBase(module, base, name);
            long[] s = bt.shape(name);
            if (s.length != 2 || s[0] != outRows || s[1] != in) throw badShape(module, base, name, s, outRows, in);
            if (module.equals("visual_projection")) projection = true;
            noEffect.add(module);
            return;
        }
        boolean vision = m.group(1).startsWith("vision") || m.group(1).startsWith("visual");
        int l = Integer.parseInt(m.group(2));
        Part part = part(m.group(3), module);
        String prefix = vision ? layout.block(l) : layout.textBlock(l);
        String name;
        long rowsWanted;
        boolean fusedBase = layout == Layout.OPENCLIP && (part == Part.Q || part == Part.K || part == Part.V || part == Part.QKV);
        switch (part) {
            case Q, K, V, QKV -> {
                name = layout == Layout.HF ? layout.projAt(prefix, part == Part.QKV ? "v" : part.name().toLowerCase(java.util.Locale.ROOT), "weight")
                        : layout.fusedQkvAt(prefix, "weight");
                rowsWanted = part == Part.QKV ? 3L * in : in;
            }
            case OUT -> {
                name = layout.outProjAt(prefix, "weight");
                rowsWanted = -1;
            }
            case MLP_IN -> {
                name = layout.mlpInAt(prefix, "weight");
                rowsWanted = -1;
            }
            default -> {
                name = layout.mlpOutAt(prefix, "weight");
                rowsWanted = -1;
            }
        }
        if (!bt.has(name)) throw notInBase(module, base, name);
        long[] s = bt.shape(name);
        long baseRows = s.length == 2 ? (fusedBase && part != Part.QKV ? s[0] / 3 : layout == Layout.HF && part == Part.QKV ? 3 * s[0] : s[0]) : -1;
        if (s.length != 2 || s[1] != in || baseRows != outRows || (rowsWanted >= 0 && rowsWanted != outRows)) {
            throw badShape(module, base, name, s, outRows, in);
        }
        if (vision && part == Part.MLP_OUT) {
            // no head map changes, but diff's MLP comparison reads the merged output map
            mlpOut.computeIfAbsent(l, k -> new ArrayList<>()).add(new Delta(module, scale, r, in, 0, st.readFloats(f[0]), st.readFloats(f[1])));
        }
        if (!vision || part == Part.MLP_IN || part == Part.MLP_OUT) {
            noEffect.add(module);
            return;
        }
        if (part == Part.Q || part == Part.K) {
            noEffect.add(module);
            return;
        }
        float[] a = st.readFloats(f[0]);
        float[] b = st.readFloats(f[1]);
        if (part == Part.OUT) {
            out.computeIfAbsent(l, k -> new ArrayList<>()).add(new Delta(module, scale, r, in, 0, a, b));
        } else {
            value.computeIfAbsent(l, k -> new ArrayList<>()).add(new Delta(module, scale, r, in, part == Part.QKV ? 2 * in : 0, a, b));
        }
    }

    private static Part part(String rest, String module) {
        switch (rest) {
            case "self_attn.q_proj": return Part.Q;
            case "self_attn.k_proj": return Part.K;
            case "self_attn.v_proj": return Part.V;
            case "attn", "attn.in_proj": return Part.QKV;
            case "self_attn.out_proj", "attn.out_proj": return Part.OUT;
            case "mlp.fc1", "mlp.c_fc": return Part.MLP_IN;
            case "mlp.fc2", "mlp.c_proj": return Part.MLP_OUT;
            default: throw new UserInputException("adapter target " + module + " is not a Linear of a CLIP block "
                    + "(q/k/v/out projections, the fused attn in-projection, or the MLP)");
        }
    }

    private static UserInputException notInBase(String module, ClipCheckpoint base, String name) {
        return new UserInputException("adapter target " + module + " is not in the base checkpoint " + base.path() + " (no tensor '" + name + "')");
    }

    private static UserInputException badShape(String module, ClipCheckpoint base, String name, long[] s, int outRows, int in) {
        return new UserInputException("adapter target " + module + " (B·A is " + outRows + "×" + in + ") does not fit tensor '" + name
                + "' " + TensorInfo.shapeString(s) + " of the base checkpoint " + base.path());
    }

    private static int positive(JsonNode config, String field, String where) {
        JsonNode v = config.get(field);
        if (v == null || v.isNull()) throw new UserInputException(where + ": " + field + " is missing (the LoRA rank)");
        if (!v.isIntegralNumber() || v.intValue() <= 0) throw new UserInputException(where + ": " + field + " is " + v + ", expected a positive integer");
        return v.intValue();
    }

    private static double number(JsonNode config, String field, String where) {
        JsonNode v = config.get(field);
        if (v == null || v.isNull()) throw new UserInputException(where + ": " + field + " is missing (the LoRA scale is alpha/r)");
        if (!v.isNumber() || !Double.isFinite(v.doubleValue())) throw new UserInputException(where + ": " + field + " is " + v + ", expected a number");
        return v.doubleValue();
    }

    /** PEFT's pattern lookup: the first key K whose regex (.*\.)?(K)$ matches the whole module name. */
    private static JsonNode pattern(JsonNode patterns, String module, String where, String field) {
        if (patterns == null || !patterns.isObject()) return null;
        for (Iterator<Map.Entry<String, JsonNode>> it = patterns.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            try {
                if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(module).matches()) return e.getValue();
            } catch (PatternSyntaxException x) {
                throw new UserInputException(where + ": " + field + " key '" + e.getKey() + "' is not a regular expression");
            }
        }
        return null;
    }

    private static int patternInt(JsonNode patterns, String module, int dflt, String where, String field) {
        JsonNode v = pattern(patterns, module, where, field);
        if (v == null) return dflt;
        if (!v.isIntegralNumber() || v.intValue() <= 0) throw new UserInputException(where + ": " + field + " gives " + module + " rank " + v);
        return v.intValue();
    }

    private static double patternNumber(JsonNode patterns, String module, double dflt, String where) {
        JsonNode v = pattern(patterns, module, where, "alpha_pattern");
        if (v == null) return dflt;
        if (!v.isNumber()) throw new UserInputException(where + ": alpha_pattern gives " + module + " alpha " + v);
        return v.doubleValue();
    }

    /** Layer l's value weight (d×d, (out, in)) with the adapter merged: W + s·B_v·A. */
    public float[] mergeValue(int l, float[] w) {
        return merge(value.get(l), w);
    }

    /** Layer l's out-projection weight (d×d) with the adapter merged. */
    public float[] mergeOut(int l, float[] w) {
        return merge(out.get(l), w);
    }

    /** Layer l's MLP output map (d×hidden, (out, in)) with the adapter merged. */
    public float[] mergeMlpOut(int l, float[] w) {
        return merge(mlpOut.get(l), w);
    }

    /** Vision MLP output maps (c_proj / fc2) the adapter changes: they enter diff's MLP comparison, no head map. */
    public int mlpOutTargets() {
        int n = 0;
        for (List<Delta> l : mlpOut.values()) n += l.size();
        return n;
    }

    private static float[] merge(List<Delta> deltas, float[] w) {
        if (deltas == null) return w;
        int in = deltas.get(0).in();
        int rows = w.length / in;
        double[] m = new double[w.length];
        for (int i = 0; i < w.length; i++) m[i] = w[i];
        for (Delta d : deltas) {
            for (int i = 0; i < rows; i++) {
                int bRow = (d.rowOffset() + i) * d.r();
                for (int t = 0; t < d.r(); t++) {
                    double bt = d.scale() * d.b()[bRow + t];
                    if (bt == 0) continue;
                    int aRow = t * in;
                    for (int k = 0; k < in; k++) m[i * in + k] += bt * d.a()[aRow + k];
                }
            }
        }
        float[] o = new float[w.length];
        for (int i = 0; i < o.length; i++) o[i] = (float) m[i];
        return o;
    }

    /** Modules merged into the vision heads' value rows or out-projections. */
    public int headTargets() {
        int n = 0;
        for (List<Delta> l : value.values()) n += l.size();
        for (List<Delta> l : out.values()) n += l.size();
        return n;
    }

    /** Modules that exist in the base but do not change any vision head's VO map (q/k, MLP, text tower...). */
    public List<String> noEffect() {
        return List.copyOf(noEffect);
    }

    /** Remarks on what was left out (biases). */
    public List<String> notes() {
        return List.copyOf(notes);
    }

    /** True when the adapter changes the vision projection (HF visual_projection), i.e. the joint space. */
    public boolean touchesProjection() {
        return projection;
    }
}
