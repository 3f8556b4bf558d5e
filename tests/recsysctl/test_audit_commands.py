"""The operator's admin actions at the command line are audited as ``cli:<OS user>``, in a
subprocess against the test warehouse: takedown and restore, activation (a refused one too),
experiment start and stop; ``recsysctl audit`` prints them newest first."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import sys
import uuid

import pytest

from recsys import audit, db
from recsys import experiment_store as store
from recsys.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration
ACTOR = f"cli:{getpass.getuser()}"


def recsysctl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recsysctl", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn


def rows_since(conn, start: int) -> list[tuple]:
    found = [e for e in reversed(audit.recent(conn, audit.MAX_LIMIT)) if e.id > start]
    assert all((e.actor, e.via) == (ACTOR, "cli") for e in found), found
    return [(e.action, e.target, e.outcome) for e in found]


def last_id(conn) -> int:
    entries = audit.recent(conn, 1)
    return entries[0].id if entries else 0


def test_cli_actions_leave_one_row_each_and_audit_prints_them(conn, world):
    for running in store.running(conn).values():
        store.stop(conn, running.name, "test setup")
    song = world.songs[0]["id"]
    name = f"cli-audit-{uuid.uuid4().hex[:8]}"
    start = last_id(conn)

    assert recsysctl("catalog", "takedown", song).returncode == 0
    assert recsysctl("catalog", "restore", song).returncode == 0
    assert recsysctl("catalog", "takedown", "no-such-song").returncode != 0
    refused = recsysctl("models", "activate", "999999999")
    assert refused.returncode != 0 and "no model version" in refused.stderr
    started = recsysctl("experiment", "start", name, "--surface", "up_next",
                        "--arm", "control:0.5", "--arm", "shuffle:0.5:random")  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert recsysctl("experiment", "stop", name).returncode == 0

    assert rows_since(conn, start) == [
        ("song.takedown", song, "ok"),
        ("song.restore", song, "ok"),
        ("song.takedown", "no-such-song", "unknown_song"),
        ("model.activate", "999999999", "model_not_found"),
        ("experiment.start", name, "ok"),
        ("experiment.stop", name, "ok"),
    ]

    printed = recsysctl("audit", "--limit", "3")
    assert printed.returncode == 0, printed.stderr
    header, *lines = printed.stdout.splitlines()
    assert header.split()[:3] == ["id", "at", "(UTC)"] and len(lines) == 3
    newest = lines[0].split()
    assert newest[3:7] == [ACTOR, "experiment.stop", name, "ok"]
    assert "model_not_found" in lines[2]
    oldest_id = lines[2].split()[0]
    older = recsysctl("audit", "--limit", "1", "--before", oldest_id)
    assert "unknown_song" in older.stdout


def test_a_cli_retrain_airflow_never_took_is_recorded_with_its_kind(conn):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    start = last_id(conn)
    refused = recsysctl("models", "retrain", env={"RECSYS_AIRFLOW_PORT": str(closed_port)})
    assert refused.returncode != 0
    ((action, target, outcome),) = rows_since(conn, start)
    assert action == "model.retrain" and target.startswith("admin__als_training__")
    assert outcome not in ("ok", "")
