package org.sith.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.sith.TestData;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * moto_server on loopback, a real S3 endpoint for s3a. The test talks to it through the AWS SDK's own S3
 * client (not through s3a), so what a job wrote is read back independently of the code that wrote it.
 * The credentials are random per run, so a search for the secret in logs and outputs means something.
 */
final class Moto implements AutoCloseable {
    static final String ACCESS_KEY = "AKIASITHTEST" + Long.toString(System.nanoTime() % 100000);
    static final String SECRET = "sith-test-secret-" + UUID.randomUUID();

    final String endpoint;
    final S3Client s3;
    private final Process process;

    private Moto(String endpoint, S3Client s3, Process process) {
        this.endpoint = endpoint;
        this.s3 = s3;
        this.process = process;
    }

    /** moto_server from SITH_MOTO_SERVER, PATH or pyenv's shims (.ci/run installs it where missing). */
    static Path executable() {
        String env = System.getenv("SITH_MOTO_SERVER");
        if (env != null && Files.isExecutable(Path.of(env))) return Path.of(env);
        Path p = ItSupport.onPath("moto_server");
        if (p != null) return p;
        Path shim = Path.of(System.getProperty("user.home"), ".pyenv", "shims", "moto_server");
        return Files.isExecutable(shim) ? shim : null;
    }

    static Moto start(Path logs) throws IOException, InterruptedException {
        Path exe = executable();
        TestData.requireTool(exe != null, "moto_server not found (PATH, ~/.pyenv/shims or SITH_MOTO_SERVER)");
        int port = ItSupport.freePort();
        Path log = logs.resolve("moto.log");
        Process p = ItSupport.start(List.of(exe.toString(), "-H", "127.0.0.1", "-p", Integer.toString(port)), Map.of(), log);
        String endpoint = "http://127.0.0.1:" + port;
        S3Client s3 = S3Client.builder().endpointOverride(URI.create(endpoint)).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET))).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                s3.listBuckets();
                break;
            } catch (RuntimeException e) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    ItSupport.stop(p);
                    throw new IllegalStateException("moto_server did not answer on " + endpoint + ": " + ItSupport.tail(log), e);
                }
                Thread.sleep(250);
            }
        }
        return new Moto(endpoint, s3, p);
    }

    /** The s3a settings for this endpoint, without credentials (those come from the environment or spark.hadoop.*). */
    Map<String, String> s3aSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("fs.s3a.endpoint", endpoint);
        m.put("fs.s3a.endpoint.region", "us-east-1");
        m.put("fs.s3a.path.style.access", "true");
        m.put("fs.s3a.attempts.maximum", "3");
        return m;
    }

    /** The AWS SDK's usual environment variables with this server's credentials. */
    static Map<String, String> credentialEnv() {
        return Map.of("AWS_ACCESS_KEY_ID", ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", SECRET, "AWS_REGION", "us-east-1");
    }

    void bucket(String name) {
        s3.createBucket(b -> b.bucket(name));
    }

    void put(String bucket, String key, Path file) {
        s3.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromFile(file));
    }

    List<String> keys(String bucket, String prefix) {
        List<String> keys = new ArrayList<>();
        for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix)).contents()) keys.add(o.key());
        return keys;
    }

    /** Downloads every object under PREFIX into DIR (key relative to the prefix = path under DIR). */
    Path download(String bucket, String prefix, Path dir) {
        try {
            for (String key : keys(bucket, prefix)) {
                if (key.endsWith("/")) continue; // a directory marker
                Path target = dir.resolve(key.substring(prefix.length()).replaceFirst("^/", ""));
                Files.createDirectories(target.getParent());
                Files.write(target, s3.getObjectAsBytes(b -> b.bucket(bucket).key(key)).asByteArray());
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        s3.close();
        ItSupport.stop(process);
    }
}
