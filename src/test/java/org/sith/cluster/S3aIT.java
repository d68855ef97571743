package org.sith.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sith.SparkTestBase;
import org.sith.SyntheticInputs;
import org.sith.cluster.ItSupport.Result;
import org.sith.run.ClaimRaces;

/**
 * decompose reading s3a:// and writing s3a:// on moto_server: through the launcher with the credentials
 * in the AWS environment variables, and in this JVM (credentials in the Hadoop configuration) for
 * --resume, --overwrite and the refusals. What was written is read back with the AWS SDK's own client.
 */
class S3aIT extends SparkTestBase {
    static final Path DIR = ItSupport.ROOT.resolve("target/it/s3a");
    static final String BUCKET = "sith-s3a";
    static final String S3 = "s3a://" + BUCKET + "/";
    static SyntheticInputs in;
    static Moto moto;
    static Path local;

    @BeforeAll
    static void startMotoAndUpload() throws Exception {
        org.apache.commons.io.FileUtils.deleteDirectory(DIR.toFile());
        moto = Moto.start(DIR.resolve("logs"));
        in = SyntheticInputs.write(DIR.resolve("inputs"));
        moto.bucket(BUCKET);
        moto.put(BUCKET, "models/synthetic/model.safetensors", in.checkpoint());
        moto.put(BUCKET, "models/synthetic/open_clip_config.json", in.config());
        moto.put(BUCKET, "concepts/concepts.npy", in.concepts());
        moto.put(BUCKET, "concepts/concepts.txt", in.vocab());
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        moto.s3aSettings().forEach(conf::set);
        conf.set("fs.s3a.access.key", Moto.ACCESS_KEY);
        conf.set("fs.s3a.secret.key", Moto.SECRET);
        local = DIR.resolve("out-local");
        Run r = cli(ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(), local.toString())
                .toArray(new String[0]));
        assertEquals(0, r.status(), r.stderr());
    }

    @AfterAll
    static void stopMoto() {
        if (moto != null) moto.close();
    }

    static Run decompose(String out, String... extra) {
        return cli(ItSupport.decompose(S3 + "models/synthetic/model.safetensors", S3 + "concepts/concepts.npy", S3 + "concepts/concepts.txt",
                S3 + out, extra).toArray(new String[0]));
    }

    static Path back(String out) throws IOException {
        Path dir = DIR.resolve("back-" + out.replace('/', '-'));
        org.apache.commons.io.FileUtils.deleteDirectory(dir.toFile());
        return moto.download(BUCKET, out + "/", dir);
    }

    @Test
    void launcherReadsAndWritesS3aWithCredentialsFromTheAwsEnvironment() throws IOException {
        ItSupport.requirePackage();
        List<String> cmd = new ArrayList<>(List.of("./submit.sh"));
        moto.s3aSettings().forEach((k, v) -> cmd.addAll(List.of("--conf", "spark.hadoop." + k + "=" + v)));
        cmd.addAll(ItSupport.decompose(S3 + "models/synthetic/model.safetensors", S3 + "concepts/concepts.npy", S3 + "concepts/concepts.txt",
                S3 + "results/launcher"));
        Map<String, String> env = new HashMap<>(Moto.credentialEnv());
        env.put("SITH_DRIVER_MEMORY", "2g");
        Result r = ItSupport.run("submit-sh-s3a", cmd, env, DIR.resolve("logs"));
        assertEquals(0, r.status(), r.stderr());
        assertTrue(r.stdout().contains("s3a://" + BUCKET + "/results/launcher"), r.stdout());
        Path back = back("results/launcher");
        ItSupport.assertSameParquet(local, back);
        for (String f : List.of("_run.json", "explanations/_run.json", "singular_vectors/_run.json")) {
            assertTrue(Files.readString(back.resolve(f)).contains(S3 + "models/synthetic/model.safetensors"), f);
        }
        assertFalse(r.stdout().contains(Moto.SECRET) || r.stderr().contains(Moto.SECRET), "secret printed by the launcher");
        assertEquals(List.of(), ItSupport.filesContaining(back, Moto.SECRET));
        assertEquals(List.of(), ItSupport.filesContaining(DIR.resolve("logs"), Moto.SECRET));
    }

    /** The claim's conditional PUT (If-None-Match: *) against the store: of runs racing for one output exactly one claims it. */
    @Test
    void ofRunsRacingOnS3aExactlyOneClaims() throws Exception {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        for (int round = 0; round < 5; round++) {
            org.apache.hadoop.fs.Path out = new org.apache.hadoop.fs.Path(S3 + "results/race-" + round);
            ClaimRaces.exactlyOneClaims(ClaimRaces.race(() -> org.apache.hadoop.fs.FileSystem.newInstance(out.toUri(), conf), out, 6,
                    org.sith.run.WriteMode.FAIL));
            List<String> left = moto.keys(BUCKET, "results/race-" + round + "/");
            assertTrue(left.stream().allMatch(k -> k.endsWith("/")), "released claims leave no claim (folder markers aside): " + left);
        }
    }

    @Test
    void refusalResumeAfterADeathAndOverwriteOnS3a() throws IOException {
        assertEquals(0, decompose("results/resume", "--layers", "1,3").status());
        Run again = decompose("results/resume");
        assertEquals(2, again.status());
        assertTrue(again.stderr().strip().lines().count() == 1 && again.stderr().contains("explanations/ already exists"), again.stderr());
        Run resumed = decompose("results/resume", "--resume");
        assertEquals(0, resumed.status(), resumed.stderr());
        assertTrue(resumed.stderr().contains("8 of 16 heads already done"), resumed.stderr());
        ItSupport.assertSameParquet(local, back("results/resume"));

        // A run that dies after its first wave keeps that wave on s3a; --resume computes the rest.
        System.setProperty("sith.test.failAfterWaves", "1");
        Run died;
        try {
            died = decompose("results/died", "--batch-rows", "64");
        } finally {
            System.clearProperty("sith.test.failAfterWaves");
        }
        assertEquals(1, died.status(), died.stderr());
        List<String> left = moto.keys(BUCKET, "results/died/");
        assertTrue(left.stream().anyMatch(k -> k.contains("/.sith-work/")), left.toString());
        assertTrue(left.stream().noneMatch(k -> k.contains("/explanations/") || k.contains(".sith-staging")), left.toString());
        Run completed = decompose("results/died", "--resume");
        assertEquals(0, completed.status(), completed.stderr());
        assertTrue(completed.stderr().matches("(?s).*resuming, [1-9]\\d* of 16 heads already done.*"), completed.stderr());
        ItSupport.assertSameParquet(local, back("results/died"));
        List<String> after = moto.keys(BUCKET, "results/died/");
        assertTrue(after.stream().noneMatch(k -> k.contains(".sith-work") || k.contains(".sith-staging")), after.toString());

        // --overwrite replaces the outputs (one layer now); the run record says so.
        assertEquals(0, decompose("results/resume", "--overwrite", "--k", "3", "--layers", "0").status());
        List<String> keys = moto.keys(BUCKET, "results/resume/explanations/");
        assertTrue(keys.stream().anyMatch(k -> k.contains("/layer=0/")), keys.toString());
        assertTrue(keys.stream().noneMatch(k -> k.contains("/layer=1/") || k.contains("/layer=3/")), keys.toString());
        Path replaced = back("results/resume");
        assertTrue(Files.readString(replaced.resolve("explanations/_run.json")).contains("\"k\" : 3"));
        assertEquals(List.of(), ItSupport.filesContaining(replaced, Moto.SECRET));
    }
}
