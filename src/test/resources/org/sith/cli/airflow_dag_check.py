"""Reads an Airflow DAG file twice, without Airflow: as Python syntax (ast) and by running it against stub
airflow modules written into a scratch folder. Prints JSON for AirflowDagTest to check.

usage: python3 airflow_dag_check.py DAG_FILE SCRATCH_DIR
"""
import ast
import json
import os
import runpy
import sys
import textwrap

OPERATOR = "SparkSubmitOperator"
OPERATOR_MODULE = "airflow.providers.apache.spark.operators.spark_submit"


def read_syntax(source):
    """Tasks (variable -> task_id) and `>>` edges as written in the file."""
    tree = ast.parse(source)
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imports += [node.module + "." + a.name for a in node.names]
    tasks = {}
    calls = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == OPERATOR:
            calls += 1
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id == OPERATOR:
            kw = {k.arg: k.value for k in node.value.keywords if k.arg}
            task_id = kw.get("task_id")
            tasks[node.targets[0].id] = {"task_id": task_id.value if isinstance(task_id, ast.Constant) else None}

    edges = []

    def chain(expr):
        """a >> b >> c parses as ((a >> b) >> c): returns the operands in order."""
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.RShift):
            left = chain(expr.left)
            right = chain(expr.right)
            edges.append([tasks[left[-1].id]["task_id"], tasks[right[0].id]["task_id"]])
            return left + right
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.LShift):
            raise SystemExit("'<<' in the DAG file: write dependencies left to right with '>>'")
        return [expr]

    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.BinOp):
            chain(node.value)
    return {"imports": imports, "operator_calls": calls, "tasks": tasks, "edges": edges}


STUB_AIRFLOW = '''
_current = []


class DAG:
    ACCEPTED = {"dag_id", "description", "schedule", "start_date", "catchup", "max_active_runs",
                "default_args", "tags", "params", "doc_md"}

    def __init__(self, dag_id, **kwargs):
        unknown = set(kwargs) - self.ACCEPTED
        if unknown:
            raise TypeError("DAG() got unexpected arguments %s" % sorted(unknown))
        self.dag_id = dag_id
        self.kwargs = kwargs
        self.tasks = []
        self.edges = []

    def __enter__(self):
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.pop()
        return False
'''

# The constructor arguments of apache-airflow-providers-apache-spark's SparkSubmitOperator and of BaseOperator
# that a DAG could pass; anything else would be a TypeError in the real operator too.
STUB_OPERATOR = '''
import airflow

SPARK_ARGS = {"application", "conf", "conn_id", "files", "py_files", "archives", "driver_class_path", "jars",
              "java_class", "packages", "exclude_packages", "repositories", "total_executor_cores",
              "executor_cores", "executor_memory", "driver_memory", "keytab", "principal", "proxy_user", "name",
              "num_executors", "status_poll_interval", "application_args", "env_vars", "verbose", "spark_binary",
              "properties_file", "yarn_queue", "deploy_mode", "use_krb5ccache"}
BASE_ARGS = {"task_id", "retries", "retry_delay", "pool", "queue", "execution_timeout", "trigger_rule", "doc_md"}


class SparkSubmitOperator:
    def __init__(self, **kwargs):
        unknown = set(kwargs) - SPARK_ARGS - BASE_ARGS
        if unknown:
            raise TypeError("SparkSubmitOperator() got unexpected arguments %s" % sorted(unknown))
        if not airflow._current:
            raise RuntimeError("operator %s created outside a DAG context" % kwargs.get("task_id"))
        self.dag = airflow._current[-1]
        self.task_id = kwargs["task_id"]
        self.kwargs = kwargs
        if any(t.task_id == self.task_id for t in self.dag.tasks):
            raise ValueError("duplicate task_id " + self.task_id)
        self.dag.tasks.append(self)

    def __rshift__(self, other):
        self.dag.edges.append([self.task_id, other.task_id])
        return other

    def __lshift__(self, other):
        self.dag.edges.append([other.task_id, self.task_id])
        return other
'''


def write_stubs(root):
    pkg = os.path.join(root, *OPERATOR_MODULE.split(".")[:-1])
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(root, "airflow", "__init__.py"), "w") as f:
        f.write(textwrap.dedent(STUB_AIRFLOW))
    path = os.path.join(root, "airflow")
    for part in OPERATOR_MODULE.split(".")[1:-1]:
        path = os.path.join(path, part)
        open(os.path.join(path, "__init__.py"), "a").close()
    with open(os.path.join(pkg, OPERATOR_MODULE.split(".")[-1] + ".py"), "w") as f:
        f.write(textwrap.dedent(STUB_OPERATOR))


def run_with_stubs(dag_file, scratch):
    stubs = os.path.join(scratch, "stub-airflow")
    write_stubs(stubs)
    sys.path.insert(0, stubs)
    import airflow  # the stub
    if not hasattr(airflow, "_current"):
        raise SystemExit("a real airflow package shadows the stubs: " + airflow.__file__)
    module = runpy.run_path(dag_file, run_name="sith_dag_under_test")
    dags = []
    for name, value in module.items():
        if isinstance(value, airflow.DAG):
            kwargs = {k: v for k, v in value.kwargs.items() if k != "start_date"}
            dags.append({
                "global": name,
                "dag_id": value.dag_id,
                "kwargs": kwargs,
                "tasks": [dict(t.kwargs) for t in value.tasks],
                "edges": value.edges,
            })
    return dags


def main():
    dag_file, scratch = sys.argv[1], sys.argv[2]
    with open(dag_file, encoding="utf-8") as f:
        source = f.read()
    result = {"syntax": read_syntax(source), "dags": run_with_stubs(dag_file, scratch)}
    json.dump(result, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
