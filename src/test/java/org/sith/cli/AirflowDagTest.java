package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.model.PythonOracle;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * jobs/sith_pipeline.py, the Airflow DAG: read as Python syntax (ast) and run against stub airflow modules
 * (Airflow is not installed on these machines) by airflow_dag_check.py; every command line it would submit
 * must parse and validate with the CLI's own options, and the presets must hold the models' real shapes.
 */
class AirflowDagTest {
    static final Path DAG = Path.of("jobs", "sith_pipeline.py");
    static final Path PRESETS = Path.of("jobs", "presets");
    static final List<String> CHAIN = List.of("embed_concepts", "image_mean", "decompose", "match_images", "report");
    static final Map<String, String> COMMAND = Map.of("embed_concepts", "embed-concepts", "image_mean", "image-mean",
            "decompose", "decompose", "match_images", "match-images", "report", "report");
    static final ObjectMapper JSON = new ObjectMapper();

    /** Published architectures (OpenAI CLIP paper and model cards, OpenCLIP's ViT-L-14.json and pretrained.py). */
    record Arch(int layers, int heads, int width, int proj, int patch, int textHeads, int textWidth, String activation, double mean0) {}

    static final Map<String, Arch> FACTS = Map.of(
            "openai-vit-b-32", new Arch(12, 12, 768, 512, 32, 8, 512, "quick_gelu", 0.48145466),
            "openai-vit-l-14", new Arch(24, 16, 1024, 768, 14, 12, 768, "quick_gelu", 0.48145466),
            "openclip-vit-l-14-laion2b", new Arch(24, 16, 1024, 768, 14, 12, 768, "gelu", 0.5));

    @TempDir
    static Path tmp;
    static JsonNode checked;
    static Map<String, JsonNode> presets = new HashMap<>();

    @BeforeAll
    static void readDag() throws IOException, InterruptedException {
        PythonOracle.assumeModules("ast", "runpy");
        Path script = tmp.resolve("airflow_dag_check.py");
        try (InputStream in = AirflowDagTest.class.getResourceAsStream("airflow_dag_check.py")) {
            Files.copy(in, script);
        }
        Path err = tmp.resolve("check.err");
        Process p = new ProcessBuilder("python3", script.toString(), DAG.toString(), tmp.toString())
                .redirectError(err.toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python3 did not finish");
        assertEquals(0, p.exitValue(), Files.readString(err));
        checked = JSON.readTree(out);
        try (Stream<Path> s = Files.list(PRESETS)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".json")).toList()) {
                JsonNode preset = JSON.readTree(f.toFile());
                presets.put("sith_" + preset.get("preset").asText().replace('-', '_'), preset);
            }
        }
    }

    @Test
    void theFileAsWrittenChainsTheFiveStepsInOrder() {
        JsonNode syntax = checked.get("syntax");
        assertTrue(texts(syntax.get("imports")).contains("airflow.providers.apache.spark.operators.spark_submit.SparkSubmitOperator"),
                syntax.get("imports").toString());
        assertEquals(5, syntax.get("operator_calls").asInt());
        List<String> ids = new ArrayList<>();
        syntax.get("tasks").forEach(t -> ids.add(t.get("task_id").asText()));
        assertEquals(CHAIN.stream().sorted().toList(), ids.stream().sorted().toList());
        assertEquals(chainEdges(), edges(syntax.get("edges")));
    }

    @Test
    void runningTheFileGivesOneDagPerPresetWithTheSameChain() {
        JsonNode dags = checked.get("dags");
        assertEquals(3, presets.size());
        assertEquals(presets.size(), dags.size(), dags.toString());
        for (JsonNode dag : dags) {
            String id = dag.get("dag_id").asText();
            assertNotNull(presets.get(id), "a DAG without a preset: " + id);
            assertEquals(id, dag.get("global").asText(), "Airflow finds a DAG by its module global");
            List<String> tasks = new ArrayList<>();
            dag.get("tasks").forEach(t -> tasks.add(t.get("task_id").asText()));
            assertEquals(CHAIN, tasks, id);
            assertEquals(chainEdges(), edges(dag.get("edges")), id);
            for (JsonNode t : dag.get("tasks")) {
                assertEquals("org.sith.cli.Main", t.get("java_class").asText());
                assertTrue(t.get("application").asText().endsWith("sith-spark-0.1.0-cluster.jar"), t.get("application").asText());
                assertEquals(presets.get(id).at("/spark/conf"), t.get("conf"), "conf from the preset");
                assertEquals(presets.get(id).at("/spark/executor_memory").asText(), t.get("executor_memory").asText());
            }
        }
    }

    @Test
    void everySubmittedCommandLineParsesAndValidatesWithTheCli() {
        Map<String, Command<?>> commands = Main.commands();
        int validated = 0;
        for (JsonNode dag : checked.get("dags")) {
            for (JsonNode t : dag.get("tasks")) {
                List<String> args = texts(t.get("application_args"));
                String name = args.get(0);
                assertEquals(COMMAND.get(t.get("task_id").asText()), name);
                Command<?> c = commands.get(name);
                if (c == null) {
                    // report is being added on another branch; until it is registered only its one option is known
                    assertEquals("report", name, "the DAG runs a command the CLI does not have: " + name);
                    assertEquals(List.of("report", "--out", out(dag)), args);
                    continue;
                }
                Options o = Options.parse(name, c.options(), args.subList(1, args.size()).toArray(new String[0]));
                c.config(o); // parsed and checked, as the CLI does before Spark starts
                assertTrue(o.positional().isEmpty(), name + ": stray arguments " + o.positional());
                assertFalse(o.help());
                validated++;
            }
        }
        assertTrue(validated >= 12, "validated " + validated + " command lines");
    }

    @Test
    void stepsReadWhatTheStepsBeforeThemWroteAndThePresetsValues() {
        for (JsonNode dag : checked.get("dags")) {
            JsonNode preset = presets.get(dag.get("dag_id").asText());
            String out = out(dag);
            assertTrue(out.startsWith(preset.at("/paths/out").asText() + "/") && out.endsWith("{{ ts_nodash }}"), out);
            Map<String, Map<String, String>> opts = new HashMap<>();
            for (JsonNode t : dag.get("tasks")) opts.put(t.get("task_id").asText(), options(texts(t.get("application_args"))));
            for (var e : opts.entrySet()) {
                assertEquals(out, e.getValue().get("out"), e.getKey() + " writes into the run folder");
                if (e.getValue().containsKey("checkpoint")) assertEquals(preset.at("/paths/checkpoint").asText(), e.getValue().get("checkpoint"));
                if (e.getValue().containsKey("heads")) assertEquals(preset.at("/model/vision/heads").asText(), e.getValue().get("heads"), e.getKey());
                if (e.getValue().containsKey("activation")) assertEquals(preset.at("/model/activation").asText(), e.getValue().get("activation"), e.getKey());
            }
            assertEquals(preset.at("/model/text/heads").asText(), opts.get("embed_concepts").get("text-heads"));
            assertEquals(out + "/concepts", opts.get("decompose").get("concepts"));
            assertEquals(out + "/image_mean.npy", opts.get("decompose").get("image-mean"));
            assertEquals("true", opts.get("decompose").get("resume"), "a retried decompose completes the killed attempt");
            assertEquals(out + "/explanations", opts.get("match_images").get("explanations"));
            assertEquals(preset.at("/model/vision/image_size").asText(), opts.get("match_images").get("size"));
            int[] layers = org.sith.run.LayerSpec.parse(opts.get("decompose").get("layers")).resolve(preset.at("/model/vision/layers").asInt(), "preset");
            assertEquals(preset.at("/model/vision/layers").asInt() - 1, layers[layers.length - 1], "the last layers are explained");
        }
    }

    @Test
    void presetsHoldTheModelsRealShapes() {
        assertEquals(FACTS.keySet(), presets.values().stream().map(p -> p.get("preset").asText()).collect(java.util.stream.Collectors.toSet()));
        for (JsonNode p : presets.values()) {
            Arch a = FACTS.get(p.get("preset").asText());
            JsonNode m = p.get("model");
            String name = p.get("preset").asText();
            assertEquals(a.layers(), m.at("/vision/layers").asInt(), name);
            assertEquals(a.heads(), m.at("/vision/heads").asInt(), name);
            assertEquals(a.width(), m.at("/vision/width").asInt(), name);
            assertEquals(a.width(), m.at("/vision/heads").asInt() * m.at("/vision/head_dim").asInt(), name + ": heads × head_dim = width");
            assertEquals(a.patch(), m.at("/vision/patch").asInt(), name);
            assertEquals(a.proj(), m.get("proj_dim").asInt(), name);
            assertEquals(a.textHeads(), m.at("/text/heads").asInt(), name);
            assertEquals(a.textWidth(), m.at("/text/width").asInt(), name);
            assertEquals(a.activation(), m.get("activation").asText(), name);
            assertEquals(a.mean0(), m.at("/preprocess/mean/0").asDouble(), 0, name);
            String file = m.get("layout").asText().equals("hf") ? "/model.safetensors" : "/open_clip_model.safetensors";
            assertTrue(p.at("/paths/checkpoint").asText().endsWith(file), name + ": the hub's file name of its layout");
        }
    }

    static String out(JsonNode dag) {
        return options(texts(dag.get("tasks").get(0).get("application_args"))).get("out");
    }

    /** --name value pairs (flags map to "true") of a command line after its command name. */
    static Map<String, String> options(List<String> args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            assertTrue(a.startsWith("--"), "not an option: " + a + " in " + args);
            boolean flag = i + 1 == args.size() || args.get(i + 1).startsWith("--");
            m.put(a.substring(2), flag ? "true" : args.get(++i));
        }
        return m;
    }

    static List<List<String>> chainEdges() {
        List<List<String>> e = new ArrayList<>();
        for (int i = 0; i + 1 < CHAIN.size(); i++) e.add(List.of(CHAIN.get(i), CHAIN.get(i + 1)));
        return e;
    }

    static List<List<String>> edges(JsonNode n) {
        List<List<String>> e = new ArrayList<>();
        n.forEach(x -> e.add(texts(x)));
        return e;
    }

    static List<String> texts(JsonNode n) {
        List<String> l = new ArrayList<>();
        n.forEach(x -> l.add(x.asText()));
        return l;
    }
}
