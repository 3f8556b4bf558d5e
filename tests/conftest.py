"""Test session setup: an isolated local stack on free ports in a temporary folder.

The session's settings are exported as RECSYS_* (and Airflow's AIRFLOW__*) before anything
imports Airflow, so every child process (gunicorn, spark-submit, Airflow tasks) talks to
the same test stack, never to a developer's running ``make up`` stack. Services start only
when a test asks for them and stop when the session ends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from recsys.settings import load_settings
from recsysctl.stack.isolated import isolated_environment, stop_all

_BASE = Path(tempfile.mkdtemp(prefix="recsys-test-"))


def _session_environment() -> dict[str, str]:
    return {
        **isolated_environment(_BASE),
        "RECSYS_KAFKA_SEND_TIMEOUT_S": "3",
        "RECSYS_WEBAPP_WORKERS": "2",
        "RECSYS_SPARK_MASTER": "local[2]",
        "RECSYS_SPARK_DRIVER_MEMORY": "1g",
        "RECSYS_PLAYER_CLOCK_SPEED": "40",
    }


def pytest_configure(config):
    from tests.auth_helpers import ServiceClient
    from webapp import WarehouseApp

    WarehouseApp.test_client_class = ServiceClient
    os.environ.update(_session_environment())
    from recsysctl.stack.airflow import airflow_env

    os.environ.update(airflow_env(load_settings()))
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"


def pytest_unconfigure(config):
    if "airflow.settings" in sys.modules:  # close Airflow's pool before its database goes
        sys.modules["airflow.settings"].dispose_orm()
    logging.getLogger("py4j").setLevel(logging.ERROR)
    stop_all(load_settings())
    shutil.rmtree(_BASE, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():
    return load_settings()


@pytest.fixture(scope="session")
def postgres(settings):
    from recsys import db
    from recsysctl.stack import postgres as service

    service.start(settings)
    db.migrate(settings)
    return settings


@pytest.fixture(scope="session")
def kafka(settings):
    from recsysctl.stack import kafka as service

    service.start(settings)
    return settings


@pytest.fixture(scope="session")
def redis_server(settings):
    from recsysctl.stack import redis as service

    service.start(settings)
    return settings


@pytest.fixture(scope="session")
def airflow_db(postgres):
    from recsysctl.stack import airflow

    airflow.prepare(postgres)
    return postgres


@pytest.fixture(scope="session")
def world(postgres):
    """The small demo world, loaded into the test catalog."""
    from recsys import db
    from recsysctl import demo

    world = demo.generate_world("small", seed=11)
    with db.connect(postgres) as conn:
        demo.load_catalog(conn, world)
    return world


@pytest.fixture(scope="session")
def webapp_server(world, kafka, redis_server, settings):
    from recsysctl.stack import webapp

    webapp.start(settings)
    return settings


@pytest.fixture(scope="session")
def spark(settings):
    """One local SparkSession for the whole run, with the Kafka connector on its classpath."""
    from recsys import jars
    from spark_jobs.common.session import spark_session

    session = spark_session(
        "tests", settings, jars=jars.spark_jars(settings), **{"spark.sql.shuffle.partitions": "1"}
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def history(spark, settings, world, kafka):
    """Two weeks of the small world's listening, sent to Kafka, landed and counted; returns
    the last complete event day."""
    from recsysctl import demo, simulator
    from tests.pipeline_helpers import UTC, count_now, land

    sent_at = dt.datetime.now(UTC)
    end = dt.datetime.combine(dt.date.today(), dt.time(), UTC)
    events = list(demo.generate_history(world, end, days=14, seed=5))
    simulator.send_history(settings, events, progress=False)
    land(spark, settings)
    count_now(spark, settings, sent_at)
    return end.date() - dt.timedelta(days=1)


@pytest.fixture(scope="session")
def trending_day(spark, settings, history):
    """The history resynced for its last day whose nightly run (00:30 to 00:30 UTC) has
    closed, so that a backfill can re-run it: the day before ``history`` between midnight and
    00:30 UTC, ``history`` otherwise. Returns the resynced day: a trending snapshot to read."""
    from spark_jobs import trending_resync

    closes = dt.datetime.combine(history + dt.timedelta(days=1), dt.time(0, 30), dt.UTC)
    day = history if dt.datetime.now(dt.UTC) >= closes else history - dt.timedelta(days=1)
    trending_resync.resync(spark, settings, day)
    return day


@pytest.fixture(scope="session")
def als_factors(spark, settings, history):
    """A real Spark ALS model (rank 16) trained on the whole test history: (params, user ids,
    user factors, song ids, item factors). Trained once; ``als_model`` serves it."""
    from spark_jobs import als_training as job
    from spark_jobs.common import lake

    params = dataclasses.replace(job.AlsParams.from_settings(settings), rank=16)
    events = lake.read_events(spark, settings.lake_uri)
    pairs = job.feedback(events, settings.play_min_seconds)
    users = job.index_ids(pairs, "user_id", "user")
    items = job.index_ids(pairs, "song_id", "item")
    model = job.train_als(
        job.indexed_feedback(events, users, items, settings.play_min_seconds), params
    )
    user_ids = users.orderBy("user").toArrow().column("user_id").to_pylist()
    item_ids = items.orderBy("item").toArrow().column("song_id").to_pylist()
    return (
        params,
        user_ids,
        job.factor_matrix(model.userFactors, len(user_ids), params.rank),
        item_ids,
        job.factor_matrix(model.itemFactors, len(item_ids), params.rank),
    )


@pytest.fixture(scope="session")
def write_model_version(settings, history, als_factors):
    """``write_model_version(rank=None)``: the trained factors written as a new gate-passed
    version, not yet served (only their first ``rank`` factors when given: a version whose
    vectors differ in size). No gate: two weeks are too short to hold out. Returns the
    version."""
    from recsys import db
    from recsys import model_registry as registry

    def write(rank: int | None = None) -> int:
        params, user_ids, user_f, item_ids, item_f = als_factors
        if rank is not None:
            params = dataclasses.replace(params, rank=rank)
            user_f, item_f = user_f[:, :rank], item_f[:, :rank]
        end = history + dt.timedelta(days=1)
        start, holdout = end - dt.timedelta(days=14), end - dt.timedelta(days=1)
        with db.connect(settings, autocommit=True) as conn:
            version = registry.create_run(conn, start, end, holdout, params.as_dict(), "tests")
            with conn.transaction():
                registry.write_factors(conn, version, user_ids, user_f, item_ids, item_f)
            registry.finish_run(conn, version, "passed")
        return version

    return write


@pytest.fixture(scope="module")
def als_model(settings, write_model_version):
    """The trained model written as a new version and served, for one test module (other
    modules activate or prune their own). Returns its version."""
    from recsys import db
    from recsys import model_registry as registry

    version = write_model_version()
    with db.connect(settings, autocommit=True) as conn:
        registry.activate(conn, version, by="tests")
    return version


@pytest.fixture(scope="session")
def airflow_started(airflow_db, settings):
    """The real Airflow: api-server, scheduler, dag-processor, triggerer."""
    from recsysctl.stack import airflow as airflow_service

    airflow_service.start(settings)
    return settings


@pytest.fixture(scope="module")
def airflow_api(airflow_started, request):
    """Airflow's REST client, with the DAGs the module names in ``AIRFLOW_DAGS`` (default:
    all) parsed and unpaused for its tests.

    Afterwards the DAGs are paused again, so no DAG run is still writing while later tests use
    the same warehouse and lake: a scheduled run not yet started is marked failed, and one
    already running is let finish (the scheduler does not advance a paused DAG's runs).
    """
    from recsys.airflow_client import DAG_IDS, AirflowClient

    client = AirflowClient(airflow_started)
    dag_ids = getattr(request.module, "AIRFLOW_DAGS", DAG_IDS)
    for dag_id in dag_ids:
        client.wait_for_dag(dag_id, timeout_s=180)
    yield client
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        for dag_id in dag_ids:
            client.set_paused(dag_id, True)
        busy = [
            (dag_id, run["dag_run_id"], run["state"])
            for dag_id in dag_ids
            for run in client.list_runs(dag_id, limit=20)
            if run["state"] in ("queued", "running")
        ]
        for dag_id, run_id, state in busy:
            if state == "queued":
                client.set_run_state(dag_id, run_id, "failed")
        running = {dag_id for dag_id, _, state in busy if state == "running"}
        if not running:
            return
        for dag_id in running:
            client.set_paused(dag_id, False)
        time.sleep(5)
    raise AssertionError(f"DAG runs still busy 15 minutes after the module: {busy}")
