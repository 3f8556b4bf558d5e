"""Test session setup: an isolated local stack on free ports in a temporary folder.

The session's settings are exported as RECSYS_* (and Airflow's AIRFLOW__*) before anything
imports Airflow, so every child process (gunicorn, spark-submit, Airflow tasks) talks to
the same test stack, never to a developer's running ``make up`` stack. Services start only
when a test asks for them and stop when the session ends.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

from recsys.settings import load_settings

_BASE = Path(tempfile.mkdtemp(prefix="recsys-test-"))


def _free_port_pair() -> int:
    """A port p with p and p + 1 free (Kafka's broker and controller listeners)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


def _session_environment() -> dict[str, str]:
    return {
        "RECSYS_ENV_FILE": str(_BASE / "no.env"),
        "RECSYS_STATE_DIR": str(_BASE / "state"),
        "RECSYS_LAKE_URI": str(_BASE / "lake"),
        "RECSYS_CHECKPOINT_URI": str(_BASE / "checkpoints"),
        "RECSYS_POSTGRES_PORT": str(_free_port_pair()),
        "RECSYS_POSTGRES_PASSWORD": secrets.token_urlsafe(12),
        "RECSYS_REDIS_URL": f"redis://127.0.0.1:{_free_port_pair()}/0",
        "RECSYS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_free_port_pair()}",
        "RECSYS_KAFKA_SEND_TIMEOUT_S": "3",
        "RECSYS_AIRFLOW_PORT": str(_free_port_pair()),
        "RECSYS_AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "RECSYS_AIRFLOW_SECRET_KEY": secrets.token_urlsafe(24),
        "RECSYS_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "RECSYS_WEBAPP_PORT": str(_free_port_pair()),
        "RECSYS_WEBAPP_WORKERS": "2",
        "RECSYS_SPARK_MASTER": "local[2]",
        "RECSYS_SPARK_DRIVER_MEMORY": "1g",
    }


def pytest_configure(config):
    os.environ.update(_session_environment())
    from recsys.stack.airflow import airflow_env

    os.environ.update(airflow_env(load_settings()))
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"


def pytest_unconfigure(config):
    from recsys.stack import services

    if "airflow.settings" in sys.modules:  # close Airflow's pool before its database goes
        sys.modules["airflow.settings"].dispose_orm()
    logging.getLogger("py4j").setLevel(logging.ERROR)
    settings = load_settings()
    for service in reversed(services(settings)):
        try:
            service.module.stop(settings)
        except Exception as err:  # report, keep stopping the others
            print(f"stopping {service.name} failed: {err}")
    shutil.rmtree(_BASE, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():
    return load_settings()


@pytest.fixture(scope="session")
def postgres(settings):
    from recsys import db
    from recsys.stack import postgres as service

    service.start(settings)
    db.migrate(settings)
    return settings


@pytest.fixture(scope="session")
def kafka(settings):
    from recsys.stack import kafka as service

    service.start(settings)
    return settings


@pytest.fixture(scope="session")
def redis_server(settings):
    from recsys.stack import redis as service

    service.start(settings)
    return settings


@pytest.fixture(scope="session")
def airflow_db(postgres):
    from recsys.stack import airflow

    airflow.prepare(postgres)
    return postgres


@pytest.fixture(scope="session")
def world(postgres):
    """The small demo world, loaded into the test catalog."""
    from recsys import db, demo_data

    world = demo_data.generate_world("small", seed=11)
    with db.connect(postgres) as conn:
        demo_data.load_catalog(conn, world)
    return world


@pytest.fixture(scope="session")
def webapp_server(world, kafka, redis_server, settings):
    from recsys.stack import webapp

    webapp.start(settings)
    return settings


@pytest.fixture(scope="session")
def spark(settings):
    """One local SparkSession for the whole run, with the Kafka connector on its classpath."""
    from recsys.stack import jars
    from spark_jobs.session import spark_session

    session = spark_session(
        "tests", settings, jars=jars.spark_jars(settings), **{"spark.sql.shuffle.partitions": "1"}
    )
    yield session
    session.stop()
