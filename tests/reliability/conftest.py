"""Fixtures of the reliability tests (``make test-reliability``): a three-node Kafka cluster
with a web app of its own, a Spark standalone cluster, and spark-submit runs of the jobs.

They run beside the session's isolated single-node stack (tests/conftest.py), which still
provides PostgreSQL, Redis, the demo catalog and the single Kafka broker. Each cluster gets
free ports and its own state folder, and every process started here is stopped here, also
when a test fails.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from recsys.settings import Settings, env_name
from recsysctl.stack import spark_cluster
from recsysctl.stack.isolated import free_port_pair


def override(settings: Settings, **fields) -> tuple[Settings, dict[str, str]]:
    """``settings`` with ``fields`` replaced, and the RECSYS_* variables that give a child
    process (gunicorn, spark-submit) the same settings."""
    return dataclasses.replace(settings, **fields), {
        env_name(name): str(value) for name, value in fields.items()
    }


def _distinct_port_pairs(count: int) -> list[int]:
    """``count`` ports p, each with p + 1, no two pairs sharing a port (each call of
    free_port_pair only knows the ports free at that moment)."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port_pair()
        if not {port, port + 1} & {q + d for q in ports for d in (0, 1)}:
            ports.append(port)
    return ports


@pytest.fixture(scope="session")
def override_settings():
    """``override_settings(settings, **fields)`` -> (settings, env); see ``override``."""
    return override


@pytest.fixture(scope="module")
def kafka_cluster(settings, tmp_path_factory):
    """Three KRaft nodes (broker+controller each) and the topic with 3 replicas, min ISR 2.
    Yields (settings, env overrides) pointing at them."""
    from recsysctl.stack import kafka_cluster as service

    base = tmp_path_factory.mktemp("kafka-cluster")
    *brokers, webapp_port = _distinct_port_pairs(service.NODE_COUNT + 1)
    cluster_settings, env = override(
        settings,
        state_dir=str(base / "state"),
        kafka_bootstrap_servers=",".join(f"127.0.0.1:{port}" for port in brokers),
        kafka_replication_factor=service.NODE_COUNT,
        webapp_port=webapp_port,
    )
    try:
        service.start(cluster_settings)
        yield cluster_settings, env
    finally:
        service.stop(cluster_settings)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_webapp(kafka_cluster, world, redis_server):
    """The real web app under gunicorn, its producer bootstrapped with all three brokers;
    the session's catalog and Redis."""
    from recsysctl.stack import webapp

    cluster_settings, env = kafka_cluster
    try:
        # gunicorn inherits this process's environment, so it reads the cluster's settings.
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            webapp.start(cluster_settings)
        yield cluster_settings
    finally:
        webapp.stop(cluster_settings)


@pytest.fixture(scope="module")
def spark_standalone(settings, tmp_path_factory):
    """A Spark standalone master and one worker (2 cores, 2 GB). Yields the cluster."""
    base = tmp_path_factory.mktemp("spark-cluster")
    cluster_settings, _ = override(settings, state_dir=str(base / "state"))
    try:
        yield spark_cluster.start(cluster_settings, cores=2, memory="2g")
    finally:
        spark_cluster.stop(cluster_settings)
        shutil.rmtree(base, ignore_errors=True)


@dataclasses.dataclass
class SparkSubmit:
    """spark-submit of a job as a child process in its own process group, logging to a
    file; ``kill`` takes the whole group (the JVM and its Python driver)."""

    settings: Settings
    log_dir: Path
    runs: list = dataclasses.field(default_factory=list)

    def start(
        self,
        application: Path,
        args: list[str] = (),
        master: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen:
        log = self.log_dir / f"{application.stem}-{len(self.runs) + 1}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                spark_cluster.submit_command(self.settings, application, list(args), master),
                env=spark_cluster.submit_environment(self.settings, env, master),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc.log_path = log
        self.runs.append(proc)
        return proc

    def run(self, application: Path, args=(), master=None, env=None, timeout_s=240) -> str:
        """Run to the end; fail with the log's tail unless it exits 0. Returns the log."""
        began = time.monotonic()
        proc = self.start(application, args, master, env)
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(proc)
            raise AssertionError(
                f"{application.stem} ran over {timeout_s} s; see {proc.log_path}"
            ) from None
        text = proc.log_path.read_text(errors="replace")
        tail = "\n".join(text.splitlines()[-40:])
        assert code == 0, f"{application.stem} on {master} exited {code}:\n{tail}"
        print(f"\n  spark-submit {application.stem} on {master}: {time.monotonic() - began:.0f} s")
        return text

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(60)

    def close(self) -> None:
        for proc in self.runs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def spark_submit(settings, tmp_path):
    submit = SparkSubmit(settings, tmp_path)
    try:
        yield submit
    finally:
        submit.close()
