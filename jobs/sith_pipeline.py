"""SITH on Spark as an Airflow pipeline: one DAG per model preset in jobs/presets/*.json.

Each DAG runs the commands of the cluster jar through spark-submit (apache-airflow-providers-apache-spark):

    embed_concepts >> image_mean >> decompose >> match_images >> report

All five write under one run folder, <paths.out>/<logical time>, so a new DAG run never meets an earlier
run's outputs, and a retried task meets only its own: the commands write their outputs atomically (a failed
attempt leaves nothing behind), and decompose runs with --resume, so a retry after a killed driver computes
only the heads that are missing (see the README, "Lineage and resume").

Settings (environment of the scheduler and workers):
    SITH_JAR      the cluster jar (target/sith-spark-0.1.0-cluster.jar of the build), as spark-submit sees it
    SITH_PRESETS  a folder of presets to use instead of jobs/presets
The Spark connection (conn_id, default spark_default) says where spark-submit sends the jobs (master,
deploy mode, spark-home); the preset's "spark" block adds the memory, cores and --conf settings.
"""
import json
import os
from datetime import datetime
from pathlib import Path

from airflow import DAG
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

PRESETS = Path(os.environ.get("SITH_PRESETS", str(Path(__file__).resolve().parent / "presets")))
JAR = os.environ.get("SITH_JAR", "/opt/sith/sith-spark-0.1.0-cluster.jar")
MAIN_CLASS = "org.sith.cli.Main"
RUN_FOLDER = "{{ ts_nodash }}"  # rendered by Airflow: the DAG run's logical time, e.g. 20260101T000000


def load_preset(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def command_args(preset):
    """The command line of every step: the command name, then its options (names as in --help)."""
    model = preset["model"]
    vision = model["vision"]
    paths = preset["paths"]
    dec = preset["decompose"]
    out = paths["out"].rstrip("/") + "/" + RUN_FOLDER
    image_options = ["--heads", str(vision["heads"]), "--activation", model["activation"],
                     "--size", str(vision["image_size"]), "--model-name", model["name"]]
    embed = ["embed-concepts", "--checkpoint", paths["checkpoint"], "--vocab", paths["vocab"],
             "--text-heads", str(model["text"]["heads"]), "--activation", model["activation"], "--out", out]
    if paths.get("bpe"):
        embed += ["--bpe", paths["bpe"]]
    return {
        "embed-concepts": embed,
        "image-mean": ["image-mean", "--checkpoint", paths["checkpoint"], "--images", paths["images"]]
                      + image_options + ["--out", out],
        "decompose": ["decompose", "--checkpoint", paths["checkpoint"], "--concepts", out + "/concepts",
                      "--image-mean", out + "/image_mean.npy", "--layers", dec["layers"], "--heads", str(vision["heads"]),
                      "--side", dec["side"], "--method", dec["method"], "--lambda", str(dec["lambda"]), "--k", str(dec["k"]),
                      "--model-name", model["name"], "--out", out, "--resume"],
        "match-images": ["match-images", "--checkpoint", paths["checkpoint"], "--images", paths["images"],
                         "--explanations", out + "/explanations", "--top", str(preset["match_images"]["top"])]
                        + image_options + ["--out", out],
        "report": ["report", "--out", out],
    }


def build_dag(preset):
    spark = preset["spark"]
    args = command_args(preset)
    common = dict(
        application=JAR,
        java_class=MAIN_CLASS,
        conn_id=spark.get("conn_id", "spark_default"),
        conf=dict(spark.get("conf", {})),
        driver_memory=spark.get("driver_memory"),
        executor_memory=spark.get("executor_memory"),
        executor_cores=spark.get("executor_cores"),
        num_executors=spark.get("num_executors"),
        packages=spark.get("packages"),
    )
    with DAG(
        dag_id="sith_" + preset["preset"].replace("-", "_"),
        description=preset["description"],
        schedule=None,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 1},
        tags=["sith", preset["model"]["name"]],
    ) as dag:
        embed = SparkSubmitOperator(task_id="embed_concepts", name="sith-embed-concepts",
                                    application_args=args["embed-concepts"], **common)
        image_mean = SparkSubmitOperator(task_id="image_mean", name="sith-image-mean",
                                         application_args=args["image-mean"], **common)
        decompose = SparkSubmitOperator(task_id="decompose", name="sith-decompose",
                                        application_args=args["decompose"], **common)
        match = SparkSubmitOperator(task_id="match_images", name="sith-match-images",
                                    application_args=args["match-images"], **common)
        report = SparkSubmitOperator(task_id="report", name="sith-report",
                                     application_args=args["report"], **common)
        embed >> image_mean >> decompose >> match >> report
    return dag


def register(folder):
    """Airflow finds DAGs among the module's globals: one per preset, named by its dag_id."""
    for path in sorted(folder.glob("*.json")):
        dag = build_dag(load_preset(path))
        globals()[dag.dag_id] = dag


register(PRESETS)
