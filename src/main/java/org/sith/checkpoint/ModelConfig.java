package org.sith.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * What the weights alone cannot tell: the attention head count and the MLP activation. They come
 * from the user, else from a config file saved beside the checkpoint (HF {@code config.json} or
 * OpenCLIP {@code open_clip_config.json}), else from the conventions of the layout.
 */
record ModelConfig(int heads, String headsSource, String activation) {
    static final int DEFAULT_HEAD_WIDTH = 64;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A config file found beside the checkpoint. */
    private record Found(String path, JsonNode root) {
        /** HF CLIPConfig keeps the tower in vision_config; a bare CLIPVisionConfig has it at top level. */
        JsonNode hfVision() {
            if (root.path("vision_config").isObject()) return root.get("vision_config");
            return root.has("num_attention_heads") && root.has("hidden_size") ? root : null;
        }

        JsonNode openClipVision() {
            if (root.path("model_cfg").path("vision_cfg").isObject()) return root.get("model_cfg").get("vision_cfg");
            return root.path("vision_cfg").isObject() ? root.get("vision_cfg") : null;
        }

        /** HF CLIPConfig keeps it in text_config; a bare CLIPTextConfig (CLIPTextModelWithProjection) at top level. */
        JsonNode hfText() {
            if (root.path("text_config").isObject()) return root.get("text_config");
            return root.path("model_type").asText("").equals("clip_text_model") ? root : null;
        }

        JsonNode openClipText() {
            if (root.path("model_cfg").path("text_cfg").isObject()) return root.get("model_cfg").get("text_cfg");
            return root.path("text_cfg").isObject() ? root.get("text_cfg") : null;
        }

        /** timm's hub config.json: the architecture's name (vit_base_patch16_clip_224, ...) and optional model_args. */
        boolean timm() {
            return root.path("architecture").isTextual() && root.path("architecture").textValue().startsWith("vit_");
        }

        /** quick_gelu is a model-level flag in OpenCLIP, beside vision_cfg. */
        boolean openClipQuickGelu() {
            JsonNode flag = root.path("model_cfg").isObject() ? root.get("model_cfg").get("quick_gelu")
                    : root.get("quick_gelu");
            return flag != null && flag.asBoolean(false);
        }
    }

    /** timm's ViT sizes and their head counts (timm's vision_transformer.py model definitions). */
    private static final Map<String, Integer> TIMM_HEADS = Map.of("tiny", 3, "small", 6, "medium", 8, "base", 12, "large", 16,
            "huge", 16, "giant", 16, "gigantic", 16);

    static ModelConfig resolve(CheckpointFile file, Configuration conf, Layout layout, int width, Integer headsOverride) {
        String checkpoint = file.given();
        List<Found> configs = new ArrayList<>();
        for (String name : new String[] {"config.json", "open_clip_config.json"}) {
            Found f = read(file.sidecar(name), conf);
            if (f != null && (f.hfVision() != null || f.openClipVision() != null || f.timm())) configs.add(f);
        }
        int heads;
        String source;
        if (headsOverride != null) {
            heads = headsOverride;
            source = "the head count given (" + headsOverride + ")";
        } else if (!configs.isEmpty()) {
            Found f = configs.get(0);
            if (f.hfVision() != null) {
                heads = positiveInt(f, f.hfVision(), "num_attention_heads", null);
                source = f.path + " num_attention_heads";
                checkWidth(f, f.hfVision().get("hidden_size"), "hidden_size", width);
            } else if (f.timm()) {
                checkWidth(f, f.root().get("num_features"), "num_features", width);
                String arch = f.root().get("architecture").textValue();
                JsonNode args = f.root().path("model_args");
                if (args.has("num_heads")) {
                    heads = positiveInt(f, args, "num_heads", null);
                    source = f.path + " model_args.num_heads";
                } else {
                    String size = arch.split("_").length > 1 ? arch.split("_")[1] : "";
                    if (!TIMM_HEADS.containsKey(size)) {
                        throw new UserInputException("config " + f.path + ": timm architecture '" + arch + "' has no size timm names "
                                + TIMM_HEADS.keySet() + " and no model_args.num_heads; give the head count").setting("heads");
                    }
                    heads = TIMM_HEADS.get(size);
                    source = f.path + " architecture " + arch;
                }
            } else {
                JsonNode vc = f.openClipVision();
                int cfgWidth = positiveInt(f, vc, "width", width);
                checkWidth(f, vc.get("width"), "vision_cfg.width", width);
                int headWidth = positiveInt(f, vc, "head_width", DEFAULT_HEAD_WIDTH);
                if (cfgWidth % headWidth != 0) {
                    throw new UserInputException("config " + f.path + ": vision_cfg.width " + cfgWidth
                            + " is not divisible by vision_cfg.head_width " + headWidth);
                }
                heads = cfgWidth / headWidth;
                source = f.path + " vision_cfg.width / head_width";
            }
        } else {
            heads = width / DEFAULT_HEAD_WIDTH;
            source = "the default head width " + DEFAULT_HEAD_WIDTH + " (no config.json or open_clip_config.json beside " + checkpoint + ")";
        }
        if (heads <= 0 || width % heads != 0) {
            throw new UserInputException("checkpoint " + checkpoint + ": width " + width
                    + " cannot be split into " + heads + " heads of equal size (head count from " + source + ")").setting("heads");
        }
        return new ModelConfig(heads, source, activation(configs, layout));
    }

    /**
     * The text tower's head count and activation, by the same rules: an override, else HF
     * text_config (transformers' defaults: 8 heads, quick_gelu), else OpenCLIP text_cfg (heads
     * default 8, the model-level quick_gelu flag), else width/64 and the layout's convention.
     */
    static ModelConfig resolveText(CheckpointFile file, Configuration conf, Layout layout, int width,
                                   Integer headsOverride, String activationOverride) {
        String checkpoint = file.given();
        Found f = null;
        for (String name : new String[] {"config.json", "open_clip_config.json"}) {
            Found c = read(file.sidecar(name), conf);
            if (c != null && (c.hfText() != null || c.openClipText() != null)) {
                f = c;
                break;
            }
        }
        int heads;
        String source;
        String activation;
        if (f == null) {
            heads = width / DEFAULT_HEAD_WIDTH;
            source = "the default head width " + DEFAULT_HEAD_WIDTH + " (no config.json or open_clip_config.json with a "
                    + "text section beside " + checkpoint + ")";
            activation = layout == Layout.OPENCLIP ? "quick_gelu" : "gelu";
        } else if (f.hfText() != null) {
            JsonNode tc = f.hfText();
            heads = positiveInt(f, tc, "num_attention_heads", 8);
            source = f.path + " text_config.num_attention_heads";
            checkWidth(f, tc.get("hidden_size"), "text_config.hidden_size", width);
            activation = tc.path("hidden_act").asText("quick_gelu").equals("quick_gelu") ? "quick_gelu" : "gelu";
        } else {
            JsonNode tc = f.openClipText();
            heads = positiveInt(f, tc, "heads", 8);
            source = f.path + " text_cfg.heads";
            checkWidth(f, tc.get("width"), "text_cfg.width", width);
            activation = f.openClipQuickGelu() ? "quick_gelu" : "gelu";
        }
        if (headsOverride != null) {
            heads = headsOverride;
            source = "the text head count given (" + headsOverride + ")";
        }
        if (activationOverride != null) activation = activation(activationOverride);
        if (heads <= 0 || width % heads != 0) {
            throw new UserInputException("checkpoint " + checkpoint + ": text width " + width
                    + " cannot be split into " + heads + " heads of equal size (head count from " + source + ")").setting("text-heads");
        }
        return new ModelConfig(heads, source, activation);
    }

    /** Validates an activation's name. */
    static String activation(String name) {
        if (name.equals("quick_gelu") || name.equals("gelu")) return name;
        throw new UserInputException("unknown activation '" + name + "' (quick_gelu or gelu)").setting("activation");
    }

    private static String activation(List<Found> configs, Layout layout) {
        if (configs.isEmpty()) {
            // OpenAI's own weights (the usual OpenCLIP-layout file without a config) use QuickGELU
            return layout == Layout.OPENCLIP ? "quick_gelu" : "gelu";
        }
        Found f = configs.get(0);
        if (f.timm()) {
            // timm names its QuickGELU variants (vit_base_patch16_clip_quickgelu_224) or says so in model_args
            String act = f.root().path("model_args").path("act_layer").asText("");
            return f.root().get("architecture").textValue().contains("quickgelu") || act.equals("quick_gelu") ? "quick_gelu" : "gelu";
        }
        if (f.hfVision() != null) {
            // transformers' CLIPVisionConfig defaults hidden_act to quick_gelu when the file omits it
            return f.hfVision().path("hidden_act").asText("quick_gelu").equals("quick_gelu") ? "quick_gelu" : "gelu";
        }
        return f.openClipQuickGelu() ? "quick_gelu" : "gelu";
    }

    private static Found read(Path p, Configuration conf) {
        FileSystem fs = Fs.fs(p, conf);
        try {
            if (!fs.exists(p)) return null;
            try (InputStream in = fs.open(p)) {
                return new Found(p.toString(), JSON.readTree(in));
            }
        } catch (JsonProcessingException e) {
            throw new UserInputException("config " + p + ": not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("config " + p + ": " + e.getMessage(), e);
        }
    }

    private static int positiveInt(Found f, JsonNode parent, String field, Integer dflt) {
        JsonNode v = parent.get(field);
        if (v == null && dflt != null) return dflt;
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() <= 0) {
            throw new UserInputException("config " + f.path + ": " + field + " is " + (v == null ? "missing" : v)
                    + ", expected a positive integer");
        }
        return v.intValue();
    }

    /** A config for a different model would give a plausible but wrong head count. */
    private static void checkWidth(Found f, JsonNode v, String field, int width) {
        if (v != null && v.isIntegralNumber() && v.longValue() != width) {
            throw new UserInputException("config " + f.path + ": " + field + " " + v
                    + " does not match the checkpoint width " + width);
        }
    }
}
