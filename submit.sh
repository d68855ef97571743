#!/usr/bin/env bash
# ./submit.sh COMMAND [options]
#
# Runs a SITH command on an embedded local[*] Spark (needs only Java 17 and Maven; builds on first
# use), or through spark-submit when a master is given with --master or SPARK_MASTER.
#
# Launcher options (before or after COMMAND; everything else goes to the command):
#   --master URL            spark://host:7077, yarn, k8s://..., local[N]   (or SPARK_MASTER)
#   --conf KEY=VALUE        a Spark setting (repeatable); spark.hadoop.* settings reach Hadoop/s3a
#   --packages COORDS       extra Maven packages for spark-submit (e.g. org.apache.hadoop:hadoop-aws:3.5.0)
#   --properties-file FILE  Spark settings (default conf/spark-defaults.conf; on the embedded run too)
#   --jars JARS, --deploy-mode MODE, --driver-memory MEM, --executor-memory MEM, --executor-cores N,
#   --num-executors N, --total-executor-cores N, --load-spark-defaults   passed to spark-submit
# Settings: conf/spark-defaults.conf goes to spark-submit as --properties-file with --load-spark-defaults
# (the installation's own spark-defaults.conf still applies, under it) and to the embedded run as system
# properties; --conf wins over both. conf/s3a-example.conf shows the s3a settings; credentials come only
# from the usual Hadoop configuration or AWS environment variables, never from the project's files.
# Environment:
#   SPARK_HOME              the Spark installation whose bin/spark-submit is used with a master
#                           (unset: Spark's SparkSubmit class from the build's own jars)
#   SPARK_MASTER            default master (unset: embedded local[*])
#   SITH_DRIVER_MEMORY      heap of the embedded local run (default 8g)
#   SITH_LOG_DIR            where Spark's log of each run goes (default /tmp/sith-logs; failures name the file)
#   OMP_NUM_THREADS         oneDNN's threads per bf16 product in the embedded run (default 1: one per task, as
#                           spark.task.cpus=1; executors get it from spark.executorEnv.OMP_NUM_THREADS)
#   SITH_CDS                0: no class-data sharing archive for the embedded run (see below)
# Executor sizing: keep spark.task.cpus=1 (one single-threaded task per core; the outputs are then the same
# bytes on any executor size) and give an executor about 3x the dictionary (N x p x 4 bytes) + 200 MB per
# core, at least 1 GB, e.g. --executor-cores 8 --executor-memory 8g.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="0.1.0"
THIN="$ROOT/target/sith-spark-$VERSION.jar"
FAT="$ROOT/target/sith-spark-$VERSION-cluster.jar"
CLASSPATH_FILE="$ROOT/target/classpath.txt"
MAIN=org.sith.cli.Main

MASTER="${SPARK_MASTER:-}"
PROPERTIES_FILE="$ROOT/conf/spark-defaults.conf"
USER_PROPERTIES=""
CONFS=()
SUBMIT_ARGS=()
APP_ARGS=()
DRIVER_MEMORY="${SITH_DRIVER_MEMORY:-8g}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) MASTER="$2"; shift 2 ;;
    --master=*) MASTER="${1#*=}"; shift ;;
    --conf) CONFS+=("$2"); shift 2 ;;
    --conf=*) CONFS+=("${1#*=}"); shift ;;
    --driver-memory) DRIVER_MEMORY="$2"; SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --properties-file) PROPERTIES_FILE="$2"; USER_PROPERTIES=1; shift 2 ;;
    --packages|--jars|--deploy-mode|--executor-memory|--executor-cores|--num-executors|--total-executor-cores)
      SUBMIT_ARGS+=("$1" "$2"); shift 2 ;;
    --load-spark-defaults) SUBMIT_ARGS+=("$1"); shift ;;
    *) APP_ARGS+=("$1"); shift ;;
  esac
done

[[ -f "$PROPERTIES_FILE" ]] || { echo "submit.sh: --properties-file $PROPERTIES_FILE: no such file" >&2; exit 2; }

build_if_needed() {
  if [[ ! -f "$THIN" || ! -f "$FAT" || ! -f "$CLASSPATH_FILE" ]] || \
     [[ -n "$(find "$ROOT/src/main" "$ROOT/pom.xml" -newer "$THIN" -print -quit 2>/dev/null)" ]]; then
    echo "submit.sh: building the project (first use or changed sources)..." >&2
    rm -f "$CDS_ARCHIVE"
    (cd "$ROOT" && mvn -q -B -DskipTests package) >&2
  fi
}

# Class-data sharing for the embedded run: the JVM loads and verifies Spark's, Hadoop's and Scala's classes
# (several thousand) on every start, seconds of a short run. The first successful run of a command (not --help)
# writes the classes it loaded to target/sith-cds.jsa (a JDK 13+ dynamic archive, about 170 MB); later runs map
# them. An archive older than the build is written again; one that no longer fits otherwise (another JDK) is
# ignored by the JVM; -Xlog:cds*=off keeps the JVM's CDS notices off the console. SITH_CDS=0 turns it off.
CDS_ARCHIVE="$ROOT/target/sith-cds.jsa"

LOG_CONF="$ROOT/conf/log4j2.properties"
# Spark's own log: one file per run, named in any failure that went through Spark (conf/log4j2.properties)
LOG_DIR="${SITH_LOG_DIR:-${TMPDIR:-/tmp}/sith-logs}"
mkdir -p "$LOG_DIR" 2>/dev/null || LOG_DIR="${TMPDIR:-/tmp}"
LOG_FILE="$LOG_DIR/sith-$(date +%Y%m%d-%H%M%S)-$$.log"
OPENS=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
  -Djdk.reflect.useDirectMethodHandle=false)

build_if_needed

if [[ -z "$MASTER" || "$MASTER" == local* ]]; then
  PROPS=("-Dspark.master=${MASTER:-local[*]}")
  # the properties file as system properties ("key value" or "key=value" lines), then --conf (the last -D wins)
  while read -r key value; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    [[ -z "$value" && "$key" == *=* ]] && { value="${key#*=}"; key="${key%%=*}"; }
    PROPS+=("-D$key=$value")
  done < "$PROPERTIES_FILE"
  for c in "${CONFS[@]+"${CONFS[@]}"}"; do PROPS+=("-D$c"); done
  # oneDNN's OpenMP team per call: the task's one core (read once, when the library loads)
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  RUN=(java "${OPENS[@]}" -Xmx"$DRIVER_MEMORY" -Dlog4j2.configurationFile="$LOG_CONF" -Dsith.log.file="$LOG_FILE" \
    "${PROPS[@]}" -cp "$THIN:$(cat "$CLASSPATH_FILE")")
  HELP=""
  for a in "${APP_ARGS[@]+"${APP_ARGS[@]}"}"; do [[ "$a" == --help || "$a" == -h || "$a" == help ]] && HELP=1; done
  if [[ "${SITH_CDS:-1}" == 0 || -n "$HELP" || ${#APP_ARGS[@]} -eq 0 ]]; then
    exec "${RUN[@]}" "$MAIN" "${APP_ARGS[@]+"${APP_ARGS[@]}"}"
  elif [[ "$CDS_ARCHIVE" -nt "$THIN" && "$CDS_ARCHIVE" -nt "$CLASSPATH_FILE" ]]; then
    exec "${RUN[@]}" -Xlog:cds*=off -XX:SharedArchiveFile="$CDS_ARCHIVE" "$MAIN" "${APP_ARGS[@]}"
  fi
  # No archive yet: this run writes one, under a name of its own, moved into place if the run succeeded. The
  # launcher stays to do that, so it passes on the signals that would have reached the JVM.
  "${RUN[@]}" -Xlog:cds*=off -XX:ArchiveClassesAtExit="$CDS_ARCHIVE.$$" "$MAIN" "${APP_ARGS[@]}" <&0 &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null' TERM INT HUP
  while :; do
    status=0
    wait $pid || status=$?
    kill -0 $pid 2>/dev/null || break
  done
  if [[ $status -eq 0 && -s "$CDS_ARCHIVE.$$" ]]; then mv -f "$CDS_ARCHIVE.$$" "$CDS_ARCHIVE"; else rm -f "$CDS_ARCHIVE.$$"; fi
  exit $status
fi

# spark-submit of the installation in SPARK_HOME; without one, Spark's own SparkSubmit main class from
# the build's classpath (the same jars), so a cluster can be used with nothing installed but Java.
if [[ -n "${SPARK_HOME:-}" && -x "$SPARK_HOME/bin/spark-submit" ]]; then
  SUBMIT=("$SPARK_HOME/bin/spark-submit")
else
  [[ -n "${SPARK_HOME:-}" ]] && echo "submit.sh: no $SPARK_HOME/bin/spark-submit; using Spark's SparkSubmit from the build classpath" >&2
  SUBMIT=(java "${OPENS[@]}" -Xmx"$DRIVER_MEMORY" -Dlog4j2.configurationFile="$LOG_CONF" -Dsith.log.file="$LOG_FILE" \
    -cp "$(cat "$CLASSPATH_FILE")" org.apache.spark.deploy.SparkSubmit)
fi
CONF_ARGS=()
for c in "${CONFS[@]+"${CONFS[@]}"}"; do CONF_ARGS+=(--conf "$c"); done
PROPS_ARGS=(--properties-file "$PROPERTIES_FILE")
[[ -z "$USER_PROPERTIES" ]] && PROPS_ARGS+=(--load-spark-defaults)
exec "${SUBMIT[@]}" --master "$MASTER" --class "$MAIN" "${PROPS_ARGS[@]}" \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$LOG_CONF -Dsith.log.file=$LOG_FILE" \
  "${CONF_ARGS[@]+"${CONF_ARGS[@]}"}" "${SUBMIT_ARGS[@]+"${SUBMIT_ARGS[@]}"}" \
  "$FAT" "${APP_ARGS[@]+"${APP_ARGS[@]}"}"
