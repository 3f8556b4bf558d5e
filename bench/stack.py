"""A throwaway stack for one benchmark run: settings on free ports under a temporary folder,
with the services asked for started and the demo catalog loaded; stopped and removed after.
Also a restart of its web app with other settings, the benchmarks' service token, and which
processes make up a running stack, and their resident memory."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from recsys import db
from recsys.identity.tokens import TokenConfig, TokenIssuer
from recsys.settings import PROJECT_ROOT, load_settings
from recsysctl import demo
from recsysctl.stack import postgres, webapp
from recsysctl.stack.isolated import free_port_pair, isolated_environment, stop_all
from recsysctl.stack.process import read_pid, wait_until


@contextmanager
def throwaway_stack(world_size: str, *services, environment: dict[str, str] | None = None):
    """Yield (settings, world): PostgreSQL migrated with ``world_size``'s catalog, plus the
    given service modules (e.g. kafka, redis, webapp) started in order; ``environment``
    (RECSYS_* variables) overrides the isolated stack's settings."""
    base = Path(tempfile.mkdtemp(prefix="recsys-bench-"))
    os.environ.update({**isolated_environment(base), **(environment or {})})
    settings = load_settings()
    try:
        postgres.start(settings)
        db.migrate(settings)
        world = demo.generate_world(world_size)
        with db.connect(settings) as conn:
            demo.load_catalog(conn, world)
        for service in services:
            service.start(settings)
        yield settings, world
    finally:
        stop_all(settings)
        shutil.rmtree(base, ignore_errors=True)


def restart_webapp(settings, **environment: str) -> None:
    """The stack's web app again, with ``environment`` (RECSYS_* variables) on top of the
    stack's (they stay set for later restarts)."""
    webapp.stop(settings)
    os.environ.update(environment)
    webapp.start(settings)


@contextmanager
def bare_http_app(settings, app: str):
    """``app`` (``module:variable``, a floor such as bench/bare_event_app.py) under gunicorn
    with the web app's workers and threads, on a free port; yields the port."""
    port = free_port_pair()
    process = subprocess.Popen(
        webapp.gunicorn_argv(settings, app, port),
        cwd=str(PROJECT_ROOT),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(settings.webapp_host, port), app, 30, None)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def service_headers(settings, scopes: list[str], name: str = "bench") -> dict[str, str]:
    """A benchmark's service token with ``scopes`` as a request header, signed with the
    stack's RECSYS_AUTH_SECRET: a service, never a listener's token; it outlives any run."""
    issuer = TokenIssuer(TokenConfig.from_settings(settings))
    token = issuer.service(name, scopes, lifetime_s=86_400)
    return {"Authorization": f"Bearer {token}"}


def stack_processes(settings) -> list[tuple[str, psutil.Process]]:
    """(service, process) for every process of the stack: each service's main process (those
    with a pid file, e.g. ``airflow-scheduler``, and PostgreSQL's postmaster) and its
    descendants (gunicorn workers, PostgreSQL backends, Airflow's task runners and the Spark
    jobs they submit)."""
    pid_files = (Path(settings.state_dir) / "run").glob("*.pid")
    roots = {f.stem: read_pid(settings.state_dir, f.stem) for f in sorted(pid_files)}
    roots[postgres.NAME] = postgres.postmaster_pid(settings)
    found = []
    for service, pid in roots.items():
        if pid is None:
            continue
        try:
            root = psutil.Process(pid)
            found += [(service, p) for p in (root, *root.children(recursive=True))]
        except psutil.NoSuchProcess:
            continue
    return found


# A PostgreSQL client backend's title: "postgres: <user> <database> <host>(<port>) <state>".
_BACKEND = re.compile(r"^postgres: (\S+) (\S+) \S+\(\d+\)")


def process_label(proc: psutil.Process) -> str:
    """A short name: the title a server gave itself (gunicorn, PostgreSQL), a JVM's main class,
    else the command with its paths cut to their last part."""
    argv = " ".join(proc.cmdline()).split() or [proc.name()]
    if Path(argv[0]).name == "java":
        after_classpath = False
        for arg in argv[1:]:
            if not arg.startswith("-") and not after_classpath:
                return f"java {arg}"
            after_classpath = arg in ("-cp", "-classpath")
    return " ".join(Path(a).name if a.startswith("/") else a for a in argv)[:43]


@dataclass(frozen=True)
class ProcessMemory:
    """Resident memory of one process of the stack, or of a group of PostgreSQL backends
    (pools open and close them, so they are compared as a group: bytes per backend).

    ``private`` leaves out resident shared pages (RSS - shared): a PostgreSQL process's RSS
    grows with every page of the shared buffers it touches, and a JVM's with mapped files.
    """

    service: str
    label: str
    pid: int | None  # None: a group
    rss: int
    private: int
    count: int = 1


def memory_snapshot(settings) -> dict[tuple, ProcessMemory]:
    """Memory of every process of the stack now, keyed by (service, pid); PostgreSQL's client
    backends grouped by user and database, keyed by (service, label)."""
    groups: dict[tuple, list] = {}
    for service, proc in stack_processes(settings):
        try:
            with proc.oneshot():
                label, memory = process_label(proc), proc.memory_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        sizes = (memory.rss, memory.rss - memory.shared)
        backend = _BACKEND.match(label)
        if backend:
            label = f"backends {backend[1]}@{backend[2]}"
            groups.setdefault((service, label), [label, None, []])[2].append(sizes)
        else:
            groups[(service, proc.pid)] = [label, proc.pid, [sizes]]
    return {
        key: ProcessMemory(
            key[0],
            label,
            pid,
            sum(rss for rss, _ in sizes) // len(sizes),
            sum(private for _, private in sizes) // len(sizes),
            len(sizes),
        )
        for key, (label, pid, sizes) in groups.items()
    }
