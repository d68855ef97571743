package org.sith.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sith.SyntheticInputs;
import org.sith.cluster.ItSupport.Result;

/**
 * decompose on a real Spark standalone cluster (a master and a worker in their own JVMs, executors
 * started by the worker), submitted as a user would: through ./submit.sh --master spark://… and through
 * spark-submit's own main class with the cluster jar; the cluster's Parquet files must be the bytes of
 * the embedded local[*] run. The second submission reads its inputs from and writes to s3a:// (moto).
 */
class ClusterIT {
    static final Path DIR = ItSupport.ROOT.resolve("target/it/cluster");
    static final String BUCKET = "sith-cluster";
    static SyntheticInputs in;
    static StandaloneCluster cluster;
    static Moto moto;
    static Path local;

    @BeforeAll
    static void startClusterAndRunLocally() throws Exception {
        ItSupport.requirePackage();
        org.apache.commons.io.FileUtils.deleteDirectory(DIR.toFile());
        in = SyntheticInputs.write(DIR.resolve("inputs"));
        moto = Moto.start(DIR.resolve("logs"));
        cluster = StandaloneCluster.start(DIR, 2, "3g");
        local = DIR.resolve("out-local");
        Result r = submit("local", List.of(), ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(),
                in.vocab().toString(), local.toString(), "--layers", "2,3"), Map.of());
        assertEquals(0, r.status(), r.stderr());
    }

    @AfterAll
    static void stop() {
        if (cluster != null) cluster.close();
        if (moto != null) moto.close();
    }

    /** ./submit.sh [launcher options] ARGS, as a separate process. */
    static Result submit(String name, List<String> launcher, List<String> args, Map<String, String> env) {
        List<String> cmd = new ArrayList<>(List.of("./submit.sh"));
        cmd.addAll(launcher);
        cmd.addAll(args);
        Map<String, String> e = new HashMap<>(env);
        e.put("SITH_DRIVER_MEMORY", "1g");
        e.put("SPARK_LOCAL_IP", "127.0.0.1");
        return ItSupport.run(name, cmd, e, DIR.resolve("logs"));
    }

    @Test
    void submitShOnTheStandaloneClusterWritesTheBytesOfTheLocalRun() throws IOException {
        // The cluster installation carries no SITH code and no OpenBLAS/oneDNN: executors load them from the shipped jar.
        try (var jars = Files.list(cluster.home.resolve("jars"))) {
            List<String> names = jars.map(p -> p.getFileName().toString()).toList();
            assertTrue(names.stream().anyMatch(n -> n.startsWith("spark-core_")), names.toString());
            assertTrue(names.stream().noneMatch(n -> n.startsWith("dnnl") || n.startsWith("openblas") || n.startsWith("sith")), names.toString());
        }
        Path out = DIR.resolve("out-submit-sh");
        Result r = submit("submit-sh-cluster", List.of("--master", cluster.url, "--executor-memory", "1g", "--conf", "spark.executor.cores=2"),
                ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(), out.toString(), "--layers", "2,3"),
                Map.of());
        assertEquals(0, r.status(), r.stderr());
        ItSupport.assertSameParquet(local, out);
        assertTrue(Files.readString(out.resolve("_run.json")).contains("\"spark_master\" : \"" + cluster.url + "\""));
        // The work ran in executors the worker started (their logs are in its work folder).
        List<Path> logs = cluster.executorLogs();
        assertTrue(logs.stream().anyMatch(p -> p.getFileName().toString().equals("stderr")), "executor logs: " + logs);
        for (Path p : logs) {
            String s = Files.readString(p);
            assertTrue(!s.contains("UnsatisfiedLinkError") && !s.contains("NoClassDefFoundError"), p + ": " + s);
        }
    }

    @Test
    void sparkSubmitMainClassRunsTheClusterJarFromS3aToS3a() throws IOException {
        moto.bucket(BUCKET);
        moto.put(BUCKET, "models/synthetic/model.safetensors", in.checkpoint());
        moto.put(BUCKET, "models/synthetic/open_clip_config.json", in.config());
        moto.put(BUCKET, "concepts/concepts.npy", in.concepts());
        moto.put(BUCKET, "concepts/concepts.txt", in.vocab());
        String s3 = "s3a://" + BUCKET + "/";
        List<String> cmd = new ArrayList<>(List.of(ItSupport.java(), "-Xmx1g"));
        cmd.addAll(ItSupport.javaOpens());
        cmd.addAll(List.of("-Dlog4j2.configurationFile=" + ItSupport.ROOT.resolve("conf/log4j2.properties"),
                "-cp", cluster.classPath(), "org.apache.spark.deploy.SparkSubmit",
                "--master", cluster.url, "--class", "org.sith.cli.Main", "--executor-memory", "1g",
                "--properties-file", ItSupport.ROOT.resolve("conf/spark-defaults.conf").toString()));
        moto.s3aSettings().forEach((k, v) -> cmd.addAll(List.of("--conf", "spark.hadoop." + k + "=" + v)));
        // Credentials as Hadoop configuration, the way a cluster job gets them when no instance role exists.
        cmd.addAll(List.of("--conf", "spark.hadoop.fs.s3a.access.key=" + Moto.ACCESS_KEY, "--conf", "spark.hadoop.fs.s3a.secret.key=" + Moto.SECRET));
        cmd.add(ItSupport.CLUSTER_JAR.toString());
        cmd.addAll(ItSupport.decompose(s3 + "models/synthetic/model.safetensors", s3 + "concepts/concepts.npy", s3 + "concepts/concepts.txt",
                s3 + "results/cluster", "--layers", "2,3"));
        Result r = ItSupport.run("spark-submit-class-s3a", cmd, cluster.env(), DIR.resolve("logs"));
        assertEquals(0, r.status(), r.stderr());
        Path back = moto.download(BUCKET, "results/cluster/", DIR.resolve("s3-back"));
        ItSupport.assertSameParquet(local, back);
        String run = Files.readString(back.resolve("_run.json"));
        assertTrue(run.contains("s3a://" + BUCKET + "/models/synthetic/model.safetensors"), run);
        assertTrue(run.contains("\"spark_master\" : \"" + cluster.url + "\""), run);
        // The secret was given on the command line; it must appear in no log, no executor log, no output.
        assertTrue(!r.stdout().contains(Moto.SECRET) && !r.stderr().contains(Moto.SECRET), "secret printed by spark-submit");
        assertEquals(List.of(), ItSupport.filesContaining(back, Moto.SECRET));
        assertEquals(List.of(), ItSupport.filesContaining(cluster.workDir, Moto.SECRET));
        assertEquals(List.of(), ItSupport.filesContaining(cluster.logs, Moto.SECRET));
    }
}
