package org.sith.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;

/**
 * The output claim against real file systems: racing runs on the local file system and on HDFS (a
 * MiniDFSCluster in this JVM) — exactly one claims, every other is refused naming the output — and claims
 * left by runs that died: named in the refusal, taken over by --resume or --overwrite, by one taker only.
 * (s3a, against moto_server, is in S3aIT.)
 */
class OutputClaimTest {
    @TempDir
    static java.nio.file.Path tmp;
    static MiniDFSCluster hdfs;

    @BeforeAll
    static void startHdfs() throws IOException {
        Configuration c = new Configuration();
        c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, tmp.resolve("minidfs").toString());
        hdfs = new MiniDFSCluster.Builder(c).numDataNodes(1).build();
        hdfs.waitActive();
    }

    @AfterAll
    static void stopHdfs() {
        if (hdfs != null) hdfs.shutdown();
    }

    static FileSystem local() throws IOException {
        return FileSystem.newInstance(java.net.URI.create("file:///"), new Configuration());
    }

    static FileSystem hdfsClient() throws IOException {
        return FileSystem.newInstance(hdfs.getURI(), new Configuration(hdfs.getConfiguration(0)));
    }

    @Test
    void ofRunsRacingOnTheLocalFileSystemExactlyOneClaims() throws Exception {
        for (int round = 0; round < 20; round++) {
            Path out = new Path(tmp.resolve("local-" + round).toUri());
            ClaimRaces.exactlyOneClaims(ClaimRaces.race(OutputClaimTest::local, out, 6, WriteMode.FAIL));
            assertFalse(Files.exists(tmp.resolve("local-" + round).resolve(OutputClaim.FOLDER)), "released claims leave nothing");
        }
    }

    @Test
    void ofRunsRacingOnHdfsExactlyOneClaims() throws Exception {
        for (int round = 0; round < 10; round++) {
            Path out = new Path(hdfs.getURI().toString() + "/out-" + round);
            ClaimRaces.exactlyOneClaims(ClaimRaces.race(OutputClaimTest::hdfsClient, out, 6, WriteMode.OVERWRITE));
            try (FileSystem fs = hdfsClient()) {
                assertFalse(fs.exists(new Path(out, OutputClaim.FOLDER)), "released claims leave nothing");
            }
        }
    }

    /** A claim as a run writes it; {@code pid} of a process that has ended stands for a killed run on this host. */
    static void leaveClaim(FileSystem given, Path out, String name, String run, String host, long pid, long ageMs) throws IOException {
        FileSystem fs = given instanceof org.apache.hadoop.fs.LocalFileSystem l ? l.getRaw() : given; // as runs write them: no .crc
        Path p = new Path(new Path(out, OutputClaim.FOLDER), name);
        try (OutputStream o = fs.create(p, true)) {
            o.write(("{\"run\":\"" + run + "\",\"command\":\"decompose\",\"host\":\"" + host + "\",\"pid\":" + pid
                    + ",\"started\":\"2026-12-06T00:00:00Z\"}").getBytes(StandardCharsets.UTF_8));
        }
        if (ageMs > 0) fs.setTimes(p, System.currentTimeMillis() - ageMs, -1);
    }

    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    @Test
    void aClaimLeftByAKilledRunIsNamedAndTakenOverByResumeOrOverwriteByOneRunOnly() throws Exception {
        for (FileSystem fs : List.of(local(), hdfsClient())) {
            Path out = fs.makeQualified(new Path(fs.getScheme().equals("file") ? tmp.resolve("killed").toString() : "/killed"));
            long dead = deadPid();
            leaveClaim(fs, out, "explanations", "deadbeef", OutputClaim.host(), dead, 0);
            UserInputException refused = assertThrows(UserInputException.class,
                    () -> OutputClaim.acquire(fs, out, "OUT", List.of("explanations"), "decompose", WriteMode.FAIL, "r1"));
            assertTrue(refused.getMessage().contains("explanations/ is claimed by a run that did not finish")
                    && refused.getMessage().contains("pid " + dead) && refused.getMessage().contains("--resume"), refused.getMessage());

            List<Object> takers = ClaimRaces.race(() -> fs, out, 4, WriteMode.RESUME);
            ClaimRaces.exactlyOneClaims(takers);
            assertFalse(fs.exists(new Path(out, OutputClaim.FOLDER)), "the winner released the claim and its takeover mark");
        }
    }

    @Test
    void aLiveRunElsewhereIsRespectedAndAnOldSilentOneIsNot() throws Exception {
        FileSystem fs = local();
        Path out = fs.makeQualified(new Path(tmp.resolve("elsewhere").toString()));
        leaveClaim(fs, out, "explanations", "cafe0001", "another-host", 4242, 0); // refreshed just now
        UserInputException live = assertThrows(UserInputException.class,
                () -> OutputClaim.acquire(fs, out, "OUT", List.of("explanations"), "decompose", WriteMode.OVERWRITE, "r2"));
        assertTrue(live.getMessage().contains("being written by another run") && live.getMessage().contains("another-host"), live.getMessage());

        leaveClaim(fs, out, "explanations", "cafe0001", "another-host", 4242, OutputClaim.STALE_MS + 60_000); // silent for too long
        try (OutputClaim c = OutputClaim.acquire(fs, out, "OUT", List.of("explanations"), "decompose", WriteMode.OVERWRITE, "r3")) {
            assertTrue(new String(Files.readAllBytes(tmp.resolve("elsewhere/" + OutputClaim.FOLDER + "/explanations")), StandardCharsets.UTF_8)
                    .contains("\"r3\""), "taken over");
        }
    }

    @Test
    void aRefusedRunReleasesWhatItHadClaimed() throws Exception {
        FileSystem fs = local();
        Path out = fs.makeQualified(new Path(tmp.resolve("partial").toString()));
        leaveClaim(fs, out, "singular_vectors", "cafe0002", "another-host", 4242, 0);
        assertThrows(UserInputException.class,
                () -> OutputClaim.acquire(fs, out, "OUT", List.of("explanations", "singular_vectors"), "decompose", WriteMode.FAIL, "r4"));
        assertFalse(Files.exists(tmp.resolve("partial/" + OutputClaim.FOLDER + "/explanations")), "explanations' claim given back");
        assertTrue(Files.exists(tmp.resolve("partial/" + OutputClaim.FOLDER + "/singular_vectors")), "the other run's claim untouched");
    }
}
