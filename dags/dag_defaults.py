"""Defaults every DAG of the warehouse shares: the ``@dag`` arguments (``DAG_ARGS``: start
date, catchup, one run at a time, ownership, retries, timeouts, macros), the Spark pool, and
how Spark jobs are submitted. DAG files import it as ``dags.dag_defaults`` (the project root
is on PYTHONPATH); it holds no DAG itself. Nothing here does I/O at import: the scheduler
parses DAG files constantly."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPARK_JOBS = PROJECT_ROOT / "spark_jobs"
SPARK_POOL = "spark"


def _on_failure(context) -> None:
    from recsys.alerts import on_task_failure

    on_task_failure(context)


DEFAULT_ARGS = {
    "owner": "data-platform",
    "on_failure_callback": _on_failure,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
}


def spark_jars() -> str:
    """Connector jars for --jars, resolved when a task runs (fetched once into the cache)."""
    from recsys.jars import spark_jars as resolve
    from recsys.settings import load_settings

    return ",".join(resolve(load_settings()))


USER_DEFINED_MACROS = {"spark_jars": spark_jars}

# What every ``@dag(...)`` shares; a DAG file adds its dag_id, schedule, tags, doc_md, params.
DAG_ARGS = {
    "start_date": pendulum.datetime(2026, 1, 1, tz="UTC"),
    "catchup": False,
    # One run of a DAG at a time: als_training's runs each activate the model they train
    # (two at once would race for the pointer), and one at a time keeps the Spark pool fair.
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
    "user_defined_macros": USER_DEFINED_MACROS,
}


def spark_job(
    task_id: str,
    job: str,
    application_args: list[str] | None = None,
    driver_memory: str = "2g",
    **kwargs,
) -> SparkSubmitOperator:
    """A spark-submit of ``spark_jobs/<job>.py`` in the Spark pool, on the spark_default
    connection's master (local[*] on one machine, spark://... on a cluster)."""
    return SparkSubmitOperator(
        task_id=task_id,
        application=str(SPARK_JOBS / f"{job}.py"),
        application_args=application_args or [],
        conn_id="spark_default",
        jars="{{ spark_jars() }}",
        driver_class_path="{{ spark_jars() | replace(',', ':') }}",
        conf={"spark.driver.memory": driver_memory, "spark.ui.enabled": "false"},
        name=job,
        pool=SPARK_POOL,
        env_vars={"PYTHONPATH": str(PROJECT_ROOT), "PYSPARK_PYTHON": sys.executable},
        **kwargs,
    )
