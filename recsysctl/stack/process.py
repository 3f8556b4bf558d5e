"""Background processes of the local stack: start detached, track by pid file, stop politely.

Every service writes its log to ``<state>/logs/<name>.log`` and its pid to
``<state>/run/<name>.pid``; nothing here knows what the service is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message says where to look."""


def log_path(state_dir: str, name: str) -> Path:
    path = Path(state_dir) / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pid_path(state_dir: str, name: str) -> Path:
    path = Path(state_dir) / "run" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def read_pid(state_dir: str, name: str) -> int | None:
    path = pid_path(state_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def spawn(
    state_dir: str,
    name: str,
    argv: list[str],
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> int:
    """Start ``argv`` detached in its own session, logging to the service's log file.

    ``env`` replaces the child's environment; by default it inherits this process's.
    """
    running = read_pid(state_dir, name)
    if running:
        return running
    log = open(log_path(state_dir, name), "ab")
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    pid_path(state_dir, name).write_text(str(proc.pid))
    return proc.pid


def terminate(state_dir: str, name: str, timeout_s: float = 30.0) -> bool:
    """SIGTERM the service's process group, SIGKILL it after ``timeout_s``. True if it ran."""
    pid = read_pid(state_dir, name)
    pid_path(state_dir, name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(check, what: str, timeout_s: float, log: Path | None = None) -> None:
    """Poll ``check()`` until it is truthy; fail naming ``what`` and the log to read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    where = f"; see {log}" if log else ""
    raise ServiceError(f"{what} not ready after {timeout_s:.0f} s{where}")
