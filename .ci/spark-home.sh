#!/usr/bin/env bash
# .ci/spark-home.sh DIR
#
# Lays out a Spark installation in DIR from jars already in the local Maven repository (nothing is
# downloaded when the project has been built): DIR/jars holds links to Spark, Hadoop, hadoop-aws and the
# AWS SDK bundle at the project's versions (no SITH code, no ND4J: that comes in the cluster jar), and
# DIR/conf/log4j2.properties links to the project's quiet logging. The cluster tests start a standalone
# master and worker on it; by hand:
#
#   export SPARK_HOME=DIR SPARK_SCALA_VERSION=2.13 SPARK_LOCAL_IP=127.0.0.1
#   java -cp "$SPARK_HOME/conf:$SPARK_HOME/jars/*" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 7077 &
#   java -cp "$SPARK_HOME/conf:$SPARK_HOME/jars/*" org.apache.spark.deploy.worker.Worker --cores 2 --memory 4g spark://127.0.0.1:7077 &
#   ./submit.sh --master spark://127.0.0.1:7077 decompose ...
#
# A worker starts its executors with `java -cp "$SPARK_HOME/conf:$SPARK_HOME/jars/*"`, and needs
# SPARK_SCALA_VERSION in its environment where SPARK_HOME is not a Spark build or distribution
# (Spark's own sbin scripts set it); add the --add-opens flags of submit.sh when Java is 17.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -eq 1 ]] || { echo "usage: .ci/spark-home.sh DIR" >&2; exit 2; }
DIR="$1"
prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p;T;q" "$ROOT/pom.xml"; }
mkdir -p "$DIR/jars" "$DIR/conf"
list="$DIR/jars.txt"
if [[ ! -s "$list" || "$ROOT/pom.xml" -nt "$list" || "$ROOT/.ci/spark-dist/pom.xml" -nt "$list" ]]; then
  mvn -q -B -Dstyle.color=never -f "$ROOT/.ci/spark-dist/pom.xml" -Dspark.version="$(prop spark.version)" -Dhadoop.version="$(prop hadoop.version)" \
    -Dscala.binary="$(prop scala.binary)" -Dmdep.outputFile="$list.tmp" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:build-classpath >&2
  mv "$list.tmp" "$list"
  find "$DIR/jars" -maxdepth 1 -type l -delete
  tr ':' '\n' < "$list" | while read -r jar; do [[ -n "$jar" ]] && ln -sf "$jar" "$DIR/jars/"; done
fi
ln -sf "$ROOT/conf/log4j2.properties" "$DIR/conf/log4j2.properties"
