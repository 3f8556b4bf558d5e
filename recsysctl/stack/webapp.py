"""The Flask app under gunicorn (threaded workers), bound to settings.webapp_host:port."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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

NAME = "webapp"


def start(settings: Settings) -> None:
    if read_pid(settings.state_dir, NAME) and healthy(settings):
        return
    argv = gunicorn_argv(settings, "webapp.wsgi:app", settings.webapp_port) + [
        "--timeout",
        "60",
        "--graceful-timeout",
        "20",
        "--config",
        "python:webapp.gunicorn_conf",
    ]
    if settings.webapp_access_log:  # off by default: it costs a lock and a write per request
        argv += ["--access-logfile", settings.webapp_access_log]
    spawn(settings.state_dir, NAME, argv, env=_environment(settings), cwd=str(PROJECT_ROOT))
    wait_until(lambda: responding(settings), "web app", 60, log_path(settings.state_dir, NAME))


def gunicorn_argv(settings: Settings, app: str, port: int) -> list[str]:
    """gunicorn serving ``app`` on ``port`` with the web app's workers and threads."""
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        raise ServiceError("gunicorn is not installed in this environment; run `make up`")
    return [
        gunicorn,
        app,
        "--bind",
        f"{settings.webapp_host}:{port}",
        "--workers",
        str(settings.webapp_workers),
        "--threads",
        str(settings.webapp_threads),
        "--worker-class",
        "gthread",
    ]


def _environment(settings: Settings) -> dict[str, str]:
    """This process's environment, plus the folder where gunicorn's workers keep their
    Prometheus samples (webapp/metrics.py), emptied so a restart starts from zero."""
    metrics_dir = Path(settings.state_dir) / "webapp-metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}


def stop(settings: Settings) -> bool:
    return terminate(settings.state_dir, NAME)


def running(settings: Settings) -> bool:
    return read_pid(settings.state_dir, NAME) is not None


def health_report(settings: Settings) -> dict:
    return requests.get(f"{settings.webapp_url}/healthz", timeout=5).json()


def responding(settings: Settings) -> bool:
    try:
        health_report(settings)
        return True
    except (requests.RequestException, ValueError):
        return False


def healthy(settings: Settings) -> bool:
    try:
        return health_report(settings)["status"] in ("ok", "degraded")
    except (requests.RequestException, ValueError, KeyError):
        return False
