"""The play_counters DAG's two Spark jobs, submitted as the DAG submits them, on ``local[2]``
and on a Spark standalone cluster (``spark://``, one master and one worker started from the
pyspark wheel): the same Kafka events give the same lake rows and the same warehouse tables,
row for row.

Each master gets its own lake, checkpoints and warehouse database, so the second run
cannot lean on what the first one wrote.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from pyspark.testing import assertDataFrameEqual

from recsys import db
from recsysctl import demo, simulator
from recsysctl.stack import kafka as kafka_service
from recsysctl.stack.spark_cluster import job_path
from spark_jobs.common import lake

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

UTC = dt.UTC
WAREHOUSE_QUERIES = {
    "counter_runs": "select interval_start, interval_end, events, plays, completes, skips,"
    " seconds_heard from analytics.counter_runs order by 1",
    "song_interval_stats": "select * from analytics.song_interval_stats order by 1, 2, 3",
    "song_daily_listeners": "select * from analytics.song_daily_listeners order by 1, 2, 3",
    "song_daily_stats": "select event_date, song_id, events, plays, completes, skips,"
    " listeners, seconds_heard, playbacks from analytics.song_daily_stats order by 1, 2",
    "plays_cumulative": "select id, plays_cumulative from catalog.songs order by 1",
}

PYTHON_PROBE = """
import sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
seen = spark.sparkContext.parallelize(range(4), 2).map(lambda _: sys.executable).distinct()
print("EXECUTOR_PYTHON", sorted(seen.collect()))
print("DRIVER_PYTHON", sys.executable)
spark.stop()
"""


def test_executors_run_the_drivers_python(spark_standalone, spark_submit, tmp_path):
    probe = tmp_path / "python_probe.py"
    probe.write_text(PYTHON_PROBE)
    log = spark_submit.run(probe, master=spark_standalone.master_url)
    lines = dict(line.split(" ", 1) for line in log.splitlines() if line.endswith("]"))
    print(f"\nexecutors on {spark_standalone.master_url} ran {lines.get('EXECUTOR_PYTHON')}")
    assert lines.get("EXECUTOR_PYTHON") == repr([sys.executable])


def _new_warehouse(settings, name: str, world, override):
    """A migrated warehouse database ``name`` on the session's server, with the catalog."""
    with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}"')
    warehouse, env = override(settings, postgres_db=name)
    db.migrate(warehouse)
    with db.connect(warehouse) as conn:
        demo.load_catalog(conn, world)
    return warehouse, env


def _finished_apps(cluster) -> set[str]:
    state = requests.get(f"{cluster.master_ui}/json/", timeout=5).json()
    return {app["name"] for app in state["completedapps"] if app["state"] == "FINISHED"}


def _warehouse_tables(settings) -> dict[str, list]:
    with db.connect(settings) as conn:
        return {name: conn.execute(query).fetchall() for name, query in WAREHOUSE_QUERIES.items()}


def test_play_counters_on_the_cluster_equal_local(
    spark_standalone, spark_submit, spark, settings, world, kafka, override_settings, tmp_path
):
    override = override_settings
    topic = f"standalone_{uuid.uuid4().hex[:8]}"
    source, _ = override(settings, kafka_topic=topic)
    kafka_service.ensure_topic(source)
    sent_at = dt.datetime.now(UTC)
    today = dt.datetime.combine(sent_at.date(), dt.time(), UTC)
    events = list(demo.generate_history(world, today, days=2, seed=23))
    simulator.send_history(source, events, progress=False)
    # One interval holding every append time of the events just sent.
    start = sent_at.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    interval = ["--start", start.isoformat(), "--end", (start + dt.timedelta(hours=3)).isoformat()]

    # One after the other: migrations also touch roles, which are shared by all databases.
    warehouses = {
        tag: _new_warehouse(settings, f"recsys_{tag}_{topic}", world, override)
        for tag in ("local", "cluster")
    }

    def pipeline(tag: str, master: str):
        """The DAG's two tasks on ``master``, into a lake and a warehouse of their own."""
        warehouse, db_env = warehouses[tag]
        job_settings, env = override(
            warehouse,
            kafka_topic=topic,
            lake_uri=str(tmp_path / tag / "lake"),
            checkpoint_uri=str(tmp_path / tag / "checkpoints"),
        )
        env = {**db_env, **env}
        spark_submit.run(job_path("land_events"), master=master, env=env)
        log = spark_submit.run(job_path("play_counters"), interval, master=master, env=env)
        counted = next(line for line in log.splitlines() if line.startswith("counted"))
        print(f"\n{tag} ({master}): {counted}")
        return job_settings, _warehouse_tables(job_settings)

    # Side by side: most of each run is JVM start-up, which overlaps well even on 2 cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        local = pool.submit(pipeline, "local", "local[2]")
        cluster = pool.submit(pipeline, "cluster", spark_standalone.master_url)
        results = {"local": local.result(), "cluster": cluster.result()}

    apps = _finished_apps(spark_standalone)
    assert {"land_events", "play_counters"} <= apps, f"the cluster ran {apps}"

    local_settings, local_tables = results["local"]
    cluster_settings, cluster_tables = results["cluster"]
    local_lake = lake.read_events(spark, local_settings.lake_uri)
    cluster_lake = lake.read_events(spark, cluster_settings.lake_uri)
    rows = local_lake.count()
    print(
        f"sent {len(events)} events; lake rows local {rows}, cluster {cluster_lake.count()}; "
        + ", ".join(f"{name} {len(table)} rows" for name, table in local_tables.items())
    )
    assert rows == len(events)
    assertDataFrameEqual(cluster_lake, local_lake)
    assert local_tables["counter_runs"][0][2] == len(events)
    for name in WAREHOUSE_QUERIES:
        assert cluster_tables[name] == local_tables[name], f"{name} differs"
