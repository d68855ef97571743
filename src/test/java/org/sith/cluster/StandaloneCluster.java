package org.sith.cluster;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Spark standalone master and one worker on loopback, started as separate JVMs from a Spark
 * installation laid out by .ci/spark-home.sh (the build's own Spark, Hadoop and AWS jars; no SITH code,
 * no OpenBLAS or oneDNN: executors get those from the cluster jar the application ships).
 */
final class StandaloneCluster implements AutoCloseable {
    final Path home;
    final Path workDir;
    final Path logs;
    final String url;
    private final List<Process> processes = new ArrayList<>();

    private StandaloneCluster(Path home, Path workDir, Path logs, String url) {
        this.home = home;
        this.workDir = workDir;
        this.logs = logs;
        this.url = url;
    }

    /** The environment a Spark installation's scripts would give its daemons and spark-submit. */
    Map<String, String> env() {
        return Map.of("SPARK_HOME", home.toString(), "SPARK_SCALA_VERSION", "2.13", "SPARK_LOCAL_IP", "127.0.0.1");
    }

    /** The class path of the installation, as bin/spark-class builds it. */
    String classPath() {
        return home.resolve("conf") + "/:" + home.resolve("jars") + "/*";
    }

    static StandaloneCluster start(Path dir, int cores, String memory) throws IOException, InterruptedException {
        Path home = dir.resolve("spark-home");
        Path logs = dir.resolve("logs");
        ItSupport.Result made = ItSupport.run("spark-home", List.of("bash", ".ci/spark-home.sh", home.toString()), Map.of(), logs);
        if (made.status() != 0) throw new IllegalStateException(".ci/spark-home.sh failed: " + made.stderr());
        // The daemons log at INFO to their own files (the installation's conf/ is quiet, for the executors).
        Path daemonLog4j = dir.resolve("daemon-log4j2.properties");
        Files.writeString(daemonLog4j, String.join("\n", "rootLogger.level = info", "rootLogger.appenderRef.stderr.ref = console",
                "appender.console.type = Console", "appender.console.name = console", "appender.console.target = SYSTEM_ERR",
                "appender.console.layout.type = PatternLayout", "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex", ""));
        int port = ItSupport.freePort();
        StandaloneCluster c = new StandaloneCluster(home, Files.createDirectories(dir.resolve("work")), logs, "spark://127.0.0.1:" + port);
        try {
            Path masterLog = logs.resolve("master.log");
            Process master = ItSupport.start(c.daemon(daemonLog4j, "org.apache.spark.deploy.master.Master",
                    "--host", "127.0.0.1", "--port", Integer.toString(port), "--webui-port", "0"), c.env(), masterLog);
            c.processes.add(master);
            ItSupport.waitForLog(master, masterLog, "I have been elected leader", Duration.ofMinutes(3));
            Path workerLog = logs.resolve("worker.log");
            Process worker = ItSupport.start(c.daemon(daemonLog4j, "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1", "--cores", Integer.toString(cores), "--memory", memory, "--webui-port", "0",
                    "--work-dir", c.workDir.toString(), c.url), c.env(), workerLog);
            c.processes.add(worker);
            ItSupport.waitForLog(worker, workerLog, "Successfully registered with master", Duration.ofMinutes(3));
            return c;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    private List<String> daemon(Path log4j, String mainClass, String... args) {
        List<String> cmd = new ArrayList<>(List.of(ItSupport.java(), "-Xmx512m"));
        cmd.addAll(ItSupport.javaOpens());
        cmd.addAll(List.of("-Dlog4j2.configurationFile=" + log4j, "-Dspark.master.rest.enabled=false", "-cp", classPath(), mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** The executor logs (stdout, stderr) the worker kept for every application it ran. */
    List<Path> executorLogs() throws IOException {
        try (var s = Files.walk(workDir)) {
            return s.filter(p -> p.getFileName().toString().equals("stderr") || p.getFileName().toString().equals("stdout")).toList();
        }
    }

    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) ItSupport.stop(processes.get(i)); // worker (and its executors) first
    }
}
