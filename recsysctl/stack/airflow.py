"""Airflow 3 for the local stack: api-server, scheduler, dag-processor and triggerer as
separate processes, metadata in the stack's PostgreSQL, DAGs from the project's ``dags/``
folder. Home (config, logs): ``<state>/airflow``.

The executor is a setting: the LocalExecutor (tasks run as children of the scheduler), or
the CeleryExecutor, with the stack's Redis as the broker and a ``airflow celery worker``
process started beside the others; more workers on other hosts take from the same queue.

``airflow_env`` is also what tests use to run ``dag.test()`` against the same metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from recsys.settings import PROJECT_ROOT, Settings
from recsysctl.stack.process import (
    ServiceError,
    log_path,
    read_pid,
    spawn,
    terminate,
    wait_until,
)

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
CELERY_WORKER = "celery-worker"
COMMANDS = {CELERY_WORKER: ["celery", "worker"]}  # the airflow subcommand, when not the name
EXECUTORS = ("LocalExecutor", "CeleryExecutor")


def components(settings: Settings) -> tuple[str, ...]:
    """The processes of the stack's Airflow: a Celery worker too under the CeleryExecutor."""
    if settings.airflow_executor not in EXECUTORS:
        raise ServiceError(
            f"RECSYS_AIRFLOW_EXECUTOR={settings.airflow_executor!r}: use one of {EXECUTORS}"
        )
    celery = settings.airflow_executor == "CeleryExecutor"
    return COMPONENTS + ((CELERY_WORKER,) if celery else ())


def nice_prefix(settings: Settings) -> list[str]:
    """The command prefix that lowers Airflow's CPU priority (empty at niceness 0).

    On one machine the batch side (scheduler, task runners, the Spark jobs they submit)
    yields the cores to the web app, so a training run slows itself rather than serving.
    """
    if not 0 <= settings.airflow_nice <= 19:
        raise ServiceError(
            f"RECSYS_AIRFLOW_NICE={settings.airflow_nice}: use a niceness from 0 to 19"
        )
    return ["nice", "-n", str(settings.airflow_nice)] if settings.airflow_nice else []


def celery_broker_url(settings: Settings) -> str:
    """The setting, else the stack's Redis with database 1 (sessions use database 0)."""
    if settings.airflow_celery_broker_url:
        return settings.airflow_celery_broker_url
    parts = urlsplit(settings.redis_url)
    return urlunsplit(parts._replace(path="/1"))


SPARK_POOL = "spark"


def home(settings: Settings) -> Path:
    return Path(settings.state_dir) / "airflow"


def airflow_env(settings: Settings) -> dict[str, str]:
    """The AIRFLOW__* configuration every Airflow process (and dag.test) runs with."""
    airflow_home = home(settings)
    # psycopg 3 serves both Airflow's sync and async engines.
    sql_conn = settings.dsn_for(settings.airflow_db).replace(
        "postgresql://", "postgresql+psycopg://"
    )
    spark_conn = {
        "conn_type": "spark",
        "host": settings.spark_master,
        "extra": {"deploy-mode": "client", "spark-binary": "spark-submit"},
    }
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": settings.airflow_executor,
        "AIRFLOW__CELERY__BROKER_URL": celery_broker_url(settings),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.airflow_celery_concurrency),
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(settings.airflow_dags_paused_at_creation),
        "AIRFLOW__CORE__FERNET_KEY": settings.airflow_fernet_key or "",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sql_conn,
        "AIRFLOW__API__HOST": settings.airflow_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.airflow_secret_key or "",
        "AIRFLOW__API__SECRET_KEY": settings.airflow_secret_key or "",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(spark_conn),
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYSPARK_PYTHON": sys.executable,
        # sbin too: the PostgreSQL launcher creates its system user with useradd
        "PATH": f"{Path(sys.executable).parent}:{SYSTEM_PATH}",
    }


def _binary() -> str:
    binary = shutil.which("airflow", path=str(Path(sys.executable).parent))
    if binary is None:
        raise ServiceError("airflow is not installed in this environment; run `make up`")
    return binary


def _full_env(settings: Settings) -> dict[str, str]:
    """This process's environment (PATH, RECSYS_*) with the stack's Airflow configuration."""
    return {**os.environ, **airflow_env(settings)}


def run_cli(settings: Settings, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    """The ``airflow`` CLI of this environment against the stack (``recsys airflow ...``)."""
    return subprocess.run(
        [_binary(), *args], env=_full_env(settings), capture_output=capture, text=True
    )


def _checked_cli(settings: Settings, *args: str) -> str:
    result = run_cli(settings, *args)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise ServiceError(f"`airflow {' '.join(args)}` failed:\n{tail}")
    return result.stdout


def prepare(settings: Settings) -> None:
    """Migrate the metadata database and create the Spark pool (both idempotent)."""
    airflow_home = home(settings)
    airflow_home.mkdir(parents=True, exist_ok=True)
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps({settings.airflow_admin_user: settings.airflow_admin_password}))
    passwords.chmod(0o600)
    _checked_cli(settings, "db", "migrate")
    _checked_cli(
        settings,
        "pools",
        "set",
        SPARK_POOL,
        "1",
        "Spark jobs queue here: one at a time on a small machine",
    )


def start(settings: Settings) -> None:
    nice = nice_prefix(settings)  # a wrong setting stops here, before anything starts
    prepare(settings)
    env, binary = _full_env(settings), _binary()
    for component in components(settings):
        name = f"airflow-{component}"
        # supervised: a component that exits (e.g. when PostgreSQL restarts) comes back
        supervisor = [sys.executable, "-m", "recsysctl.stack.supervise", "--name", name, "--"]
        spawn(
            settings.state_dir,
            name,
            [*nice, *supervisor, binary, *COMMANDS.get(component, [component])],
            env=env,
            cwd=str(PROJECT_ROOT),
        )
    wait_until(
        lambda: healthy(settings),
        "Airflow api-server and scheduler",
        180,
        log_path(settings.state_dir, "airflow-api-server"),
    )


def stop(settings: Settings) -> bool:
    every = (*COMPONENTS, CELERY_WORKER)  # whichever executor the stack was started with
    stopped = [terminate(settings.state_dir, f"airflow-{c}", timeout_s=30) for c in every]
    return any(stopped)


def running(settings: Settings) -> bool:
    return all(read_pid(settings.state_dir, f"airflow-{c}") for c in components(settings))


def health_report(settings: Settings) -> dict:
    response = requests.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3)
    response.raise_for_status()
    return response.json()


def healthy(settings: Settings) -> bool:
    try:
        report = health_report(settings)
    except (requests.RequestException, ValueError):
        return False
    return all(
        report.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler")
    )
