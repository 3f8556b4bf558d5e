"""The local stack's process supervisor, with real processes and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from recsysctl.stack import supervise
from recsysctl.stack.process import pid_alive


def start_supervised(command: list[str], *options: str) -> subprocess.Popen:
    """The supervisor in its own process group, as the stack's ``spawn`` starts services."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recsysctl.stack.supervise",
            "--name",
            "test",
            *options,
            "--",
            *command,
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for(check, timeout_s: float = 20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_child_that_exits_is_started_again_with_growing_back_off(tmp_path):
    starts = tmp_path / "starts"
    child = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"
    supervisor = start_supervised(
        [sys.executable, "-c", child], "--min-backoff", "0.2", "--max-backoff", "0.4"
    )
    try:
        wait_for(lambda: starts.exists() and len(starts.read_text()) >= 4)
    finally:
        os.killpg(supervisor.pid, signal.SIGTERM)
    output, _ = supervisor.communicate(timeout=10)
    lines = [line for line in output.splitlines() if "supervise" in line]
    assert lines[0].endswith("test exited with code 3; restart 1 in 0.2 s")
    assert lines[1].endswith("restart 2 in 0.4 s")
    assert lines[2].endswith("restart 3 in 0.4 s")  # the back-off doubles up to its cap
    # one line per exit: the last child may still have been running when the group stopped
    assert len(lines) <= len(starts.read_text()) <= len(lines) + 1


def test_sigterm_to_the_group_stops_child_and_supervisor_without_a_restart(tmp_path):
    pid_file = tmp_path / "child.pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    supervisor = start_supervised([sys.executable, "-c", child])
    child_pid = int(wait_for(lambda: pid_file.exists() and pid_file.read_text()))
    os.killpg(supervisor.pid, signal.SIGTERM)
    output, _ = supervisor.communicate(timeout=10)  # a supervisor that hung would time out
    assert "restart" not in output
    assert int(pid_file.read_text()) == child_pid  # no second child was started
    wait_for(lambda: not pid_alive(child_pid), timeout_s=5)


def test_a_command_is_required():
    with pytest.raises(SystemExit):
        supervise.parse_args(["--name", "x"])
    assert supervise.parse_args(["--name", "x", "--", "sleep", "1"]).command == ["sleep", "1"]
