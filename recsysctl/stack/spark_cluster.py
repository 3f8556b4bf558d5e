"""A Spark standalone cluster on one machine: one master and one worker, started with the
pyspark wheel's own ``spark-class``, so the jobs run with ``--master spark://...`` exactly as
they would on a real cluster (executors in their own JVMs, jars shipped by the driver).

The master listens on ``settings.spark_master`` when that is a ``spark://`` URL, else on a
free port; the web UIs and the worker take free ports. The worker offers a bounded number of
cores and memory (a 2-core machine has no more to give). Its executors run this
interpreter, the project's venv, so Python code behaves as in the driver.

State: ``<state>/spark-cluster/`` (``cluster.json`` with the master URL and UIs; ``work/``
with each application's executor logs). Logs and pid files: ``spark-master``,
``spark-worker``.

    python -m recsysctl.stack.spark_cluster start [--cores 2 --memory 2g] | status | stop
    python -m recsysctl.stack.spark_cluster submit play_counters --start ... --end ...
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from recsys import jars
from recsys.settings import PROJECT_ROOT, Settings, env_name, load_settings
from recsysctl.stack.process import (
    log_path,
    read_pid,
    spawn,
    terminate,
    wait_until,
)

NAME = "spark-cluster"
MASTER, WORKER = "spark-master", "spark-worker"
HOST = "127.0.0.1"
DEFAULT_CORES = 2
DEFAULT_MEMORY = "2g"
# What one application asks of the worker: it must fit in the worker's memory.
EXECUTOR_MEMORY = "1g"


@dataclass(frozen=True)
class Cluster:
    master_url: str
    master_ui: str
    worker_ui: str
    cores: int
    memory: str


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _state(settings: Settings) -> Path:
    return Path(settings.state_dir) / NAME


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _master_port(settings: Settings) -> int:
    """The port of ``settings.spark_master`` when it names a cluster here, else a free one."""
    if settings.spark_master.startswith("spark://"):
        host, _, port = settings.spark_master.removeprefix("spark://").partition(":")
        if host in (HOST, "localhost") and port:
            return int(port)
    return _free_port()


def environment(settings: Settings) -> dict[str, str]:
    """What the daemons, their executors and spark-submit run with."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_DIRS": str(_state(settings) / "local"),
        "SPARK_DAEMON_MEMORY": "512m",
        # Executors start the Python workers with PYSPARK_PYTHON (or "python3" on PATH).
        "PYSPARK_PYTHON": sys.executable,
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
    }


def _spark_class(*args: str) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), *args]


def start(settings: Settings, cores: int = DEFAULT_CORES, memory: str = DEFAULT_MEMORY) -> Cluster:
    """Start the master and one worker unless running; wait until the worker registered."""
    running = cluster(settings)
    if running and healthy(settings):
        return running
    stop(settings)
    state = _state(settings)
    (state / "work").mkdir(parents=True, exist_ok=True)
    (state / "local").mkdir(parents=True, exist_ok=True)
    master_port, master_ui, worker_ui = _master_port(settings), _free_port(), _free_port()
    info = Cluster(
        master_url=f"spark://{HOST}:{master_port}",
        master_ui=f"http://{HOST}:{master_ui}",
        worker_ui=f"http://{HOST}:{worker_ui}",
        cores=cores,
        memory=memory,
    )
    (state / "cluster.json").write_text(json.dumps(asdict(info), indent=2))
    env = environment(settings)
    master = _spark_class(
        "org.apache.spark.deploy.master.Master",
        *("--host", HOST, "--port", str(master_port), "--webui-port", str(master_ui)),
    )
    spawn(settings.state_dir, MASTER, master, env=env, cwd=str(state))
    wait_until(lambda: _master_state(info) is not None, "Spark master", 90, _log(settings, MASTER))
    worker = _spark_class(
        "org.apache.spark.deploy.worker.Worker",
        *("--host", HOST, "--port", str(_free_port()), "--webui-port", str(worker_ui)),
        *("--cores", str(cores), "--memory", memory, "--work-dir", str(state / "work")),
        info.master_url,
    )
    spawn(settings.state_dir, WORKER, worker, env=env, cwd=str(state))
    wait_until(lambda: healthy(settings), "Spark worker", 90, _log(settings, WORKER))
    return info


def _log(settings: Settings, name: str) -> Path:
    return log_path(settings.state_dir, name)


def cluster(settings: Settings) -> Cluster | None:
    """The cluster last started under this state folder (running or not)."""
    path = _state(settings) / "cluster.json"
    return Cluster(**json.loads(path.read_text())) if path.exists() else None


def _master_state(info: Cluster) -> dict | None:
    try:
        return requests.get(f"{info.master_ui}/json/", timeout=3).json()
    except (requests.RequestException, ValueError):
        return None


def alive_workers(settings: Settings) -> list[dict]:
    info = cluster(settings)
    state = _master_state(info) if info else None
    return [w for w in (state or {}).get("workers", []) if w.get("state") == "ALIVE"]


def healthy(settings: Settings) -> bool:
    return bool(read_pid(settings.state_dir, MASTER) and alive_workers(settings))


def stop(settings: Settings) -> bool:
    """Stop the worker (and with it its executors), then the master."""
    stopped_worker = terminate(settings.state_dir, WORKER, timeout_s=30)
    stopped_master = terminate(settings.state_dir, MASTER, timeout_s=30)
    return stopped_worker or stopped_master


def job_path(job: str) -> Path:
    return PROJECT_ROOT / "spark_jobs" / f"{job}.py"


def submit_command(
    settings: Settings,
    application: Path,
    app_args: list[str] = (),
    master: str | None = None,
    conf: dict[str, str] | None = None,
) -> list[str]:
    """``spark-submit`` of ``application`` (e.g. ``job_path("play_counters")``) as the DAGs
    submit it: connector jars on the driver and executors, the venv's Python, on ``master``
    (default: the setting)."""
    connectors = jars.spark_jars(settings)
    spark_conf = {
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.executor.memory": EXECUTOR_MEMORY,
        "spark.ui.enabled": "false",
        "spark.pyspark.python": sys.executable,
        "spark.driver.host": HOST,
        **(conf or {}),
    }
    return [
        str(spark_home() / "bin" / "spark-submit"),
        *("--master", master or settings.spark_master),
        *("--name", application.stem),
        *("--jars", ",".join(connectors)),
        *("--driver-class-path", ":".join(connectors)),
        *[arg for key, value in spark_conf.items() for arg in ("--conf", f"{key}={value}")],
        str(application),
        *app_args,
    ]


def submit_environment(
    settings: Settings, overrides: dict[str, str] | None = None, master: str | None = None
) -> dict[str, str]:
    """The environment of a spark-submit: the project importable, plus ``overrides``.

    ``master`` also goes into RECSYS_SPARK_MASTER: the jobs' ``spark_session`` sets
    ``spark.master`` from the setting, and that wins over spark-submit's ``--master``."""
    env = {**environment(settings), "PYTHONPATH": str(PROJECT_ROOT)}
    if master:
        env[env_name("spark_master")] = master
    return {**env, **(overrides or {})}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "submit"])
    parser.add_argument("job", nargs="?", help="submit: a module of spark_jobs/")
    parser.add_argument("--cores", type=int, default=DEFAULT_CORES, help="worker cores")
    parser.add_argument("--memory", default=DEFAULT_MEMORY, help="worker memory, e.g. 2g")
    args, job_args = parser.parse_known_args(argv)
    settings = load_settings()
    if args.command == "start":
        info = start(settings, args.cores, args.memory)
        print(f"Spark master {info.master_url} (UI {info.master_ui}), worker UI {info.worker_ui}")
        print(f"use it: RECSYS_SPARK_MASTER={info.master_url}")
    elif args.command == "stop":
        print("stopped" if stop(settings) else "not running")
    elif args.command == "status":
        info = cluster(settings)
        workers = alive_workers(settings)
        print(f"{info.master_url if info else 'no cluster'}: {len(workers)} worker(s) alive")
        for w in workers:
            print(f"  {w['id']}: {w['cores']} cores, {w['memory']} MB")
        sys.exit(0 if workers else 1)
    elif args.command == "submit":
        if not args.job:
            parser.error("submit needs a job, e.g. play_counters")
        info = cluster(settings)
        if not (info and healthy(settings)):
            parser.error("no running cluster: run `python -m recsysctl.stack.spark_cluster start`")
        command = submit_command(settings, job_path(args.job), job_args, info.master_url)
        env = submit_environment(settings, master=info.master_url)
        sys.exit(subprocess.run(command, env=env).returncode)


if __name__ == "__main__":
    main()
