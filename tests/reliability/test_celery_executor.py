"""The play_counters DAG under Airflow's CeleryExecutor: the project's own start-up
(``RECSYS_AIRFLOW_EXECUTOR=CeleryExecutor``) runs api-server, scheduler, dag-processor,
triggerer and a Celery worker with Redis as the broker; the worker runs the DAG's tasks and
the counters equal a brute-force count over the lake.

This Airflow has a metadata database, a warehouse database, a Kafka topic and a lake of its
own, so it shares nothing with the session's stack but the servers. DAGs start paused and
only play_counters is unpaused, so no nightly job starts on the side.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import psycopg
import pytest

from recsys import db
from recsys.airflow_client import AirflowClient
from recsysctl import demo, simulator
from recsysctl.stack import airflow as airflow_service
from recsysctl.stack import kafka as kafka_service
from recsysctl.stack.isolated import free_port_pair
from recsysctl.stack.process import log_path
from tests.pipeline_helpers import assert_counters_equal_the_lake, counter_tables, lake_rows

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

UTC = dt.UTC


def new_database(settings, name: str) -> None:
    with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}"')


@pytest.fixture(scope="module")
def celery_airflow(settings, world, kafka, redis_server, override_settings, tmp_path_factory):
    """(settings, client) of an Airflow on the CeleryExecutor, its tasks writing to a
    warehouse, topic and lake of their own."""
    base = tmp_path_factory.mktemp("celery-airflow")
    tag = uuid.uuid4().hex[:8]
    celery, env = override_settings(
        settings,
        state_dir=str(base / "state"),
        airflow_executor="CeleryExecutor",
        airflow_dags_paused_at_creation=True,
        airflow_db=f"airflow_celery_{tag}",
        airflow_port=free_port_pair(),
        postgres_db=f"recsys_celery_{tag}",
        kafka_topic=f"celery_{tag}",
        lake_uri=str(base / "lake"),
        checkpoint_uri=str(base / "checkpoints"),
    )
    for name in (celery.airflow_db, celery.postgres_db):
        new_database(settings, name)
    db.migrate(celery)
    with db.connect(celery) as conn:
        demo.load_catalog(conn, world)
    kafka_service.ensure_topic(celery)
    try:
        # Airflow's processes and their tasks inherit this environment: the settings above,
        # and log-server ports of their own beside any other Airflow on this machine.
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            patch.setenv("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", str(free_port_pair()))
            patch.setenv("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(free_port_pair()))
            airflow_service.start(celery)
        assert airflow_service.running(celery)
        client = AirflowClient(celery)
        client.wait_for_dag("play_counters", timeout_s=180)
        client.set_paused("play_counters", False)
        yield celery, client
    finally:
        airflow_service.stop(celery)


def test_play_counters_runs_on_the_celery_worker_and_counts_exactly(celery_airflow, spark, world):
    celery, client = celery_airflow
    now = dt.datetime.now(UTC)
    start = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    if start + dt.timedelta(minutes=15) - now < dt.timedelta(minutes=2):
        time.sleep((start + dt.timedelta(minutes=15) - now).total_seconds() + 1)
        start += dt.timedelta(minutes=15)
    end = start + dt.timedelta(minutes=15)  # holds every append time of the events sent now

    today = dt.datetime.combine(now.date(), dt.time(), UTC)
    events = list(demo.generate_history(world, today, days=1, seed=31))
    simulator.send_history(celery, events, progress=False)

    began = time.monotonic()
    run_id = client.run_interval("play_counters", start, end, note="celery executor test")
    state = client.wait("play_counters", run_id, timeout_s=900)
    took = time.monotonic() - began
    tasks = client.task_states("play_counters", run_id)
    assert state == "success", f"{run_id}: {state}, tasks {tasks}"

    worker_log = log_path(celery.state_dir, "airflow-celery-worker").read_text(errors="replace")
    ran_on_worker = {task for task in tasks if task in worker_log and run_id in worker_log}
    tables = counter_tables(celery)
    rows = lake_rows(spark, celery)
    ledger = [r for r in tables["analytics.counter_runs"] if r[0] == start]
    print(
        f"\nCeleryExecutor: run {run_id} [{start:%H:%M}, {end:%H:%M}) {state} in {took:.0f} s; "
        f"tasks {tasks}; in the Celery worker's log: {sorted(ran_on_worker)}\n"
        f"  sent {len(events)} events; lake rows {len(rows)}; ledger {ledger}"
    )
    assert ran_on_worker == set(tasks), f"tasks the Celery worker did not log: {tasks}"
    assert len(rows) == len(events)
    assert ledger and ledger[0][2] == len(events)
    assert_counters_equal_the_lake(tables, rows, celery.play_min_seconds)
