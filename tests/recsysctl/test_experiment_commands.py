"""``python -m recsysctl experiment`` as an operator runs it, in a subprocess against the test
warehouse: start, list, show (results and verdicts), stop; bad input named with exit 2, a
conflict with exit 1, never a stack trace."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid

import pytest

from recsys import db
from recsys import experiment_store as store
from recsys.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration


def recsysctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recsysctl", "experiment", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test teardown")


def fresh() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


def test_start_list_show_and_stop(conn):
    name = fresh()
    started = recsysctl("start", name, "--surface", "home", "--arm", "control:0.5",
                        "--arm", "shuffle:0.5:random", "--notes", "a poor arm")  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "shuffle" in started.stdout and "random songs" in started.stdout
    assert store.get(conn, name).arms[1].random is True

    listed = recsysctl("list")
    assert listed.returncode == 0 and name in listed.stdout

    for arm, completes, skips in (("control", 300, 200), ("shuffle", 200, 300)):
        conn.execute(
            "insert into analytics.online_metrics values (%s, 'home', null, %s, %s, 100, 2000,"
            " 10, 500, 500, %s, %s, 0, 0, 0, now())",
            (dt.date(2026, 3, 1), name, arm, completes, skips),
        )
    shown = recsysctl("show", name)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    control = next(line for line in lines if line.startswith("control "))
    assert control.split()[2:7] == ["100", "500", "0.600", "0.400", "0.250"]
    through = next(line for line in lines if "shuffle" in line and "play-through" in line)
    assert "-0.200 [-0.261, -0.139]" in through and through.endswith("worse")

    stopped = recsysctl("stop", name)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert store.get(conn, name).status == "stopped"
    again = recsysctl("stop", name)
    assert again.returncode == 1 and "stopped already" in again.stderr


def test_arms_from_a_file(conn, tmp_path):
    arms = tmp_path / "arms.json"
    arms.write_text(json.dumps([{"name": "c", "share": 0.7}, {"name": "b", "share": 0.3,
                                                                "blend": 0.2}]))  # fmt: skip
    name = fresh()
    started = recsysctl("start", name, "--surface", "up_next", "--arms-file", str(arms))
    assert started.returncode == 0, started.stderr
    assert store.get(conn, name).arms[1].blend == 0.2


@pytest.mark.parametrize(
    ("args", "status", "wording"),
    [
        (["--arm", "control:half", "--arm", "b:0.5"], 2, "--arm 'control:half': the share"),
        (["--arm", "control:0.5", "--arm", "b:0.5:blend=1.5"], 2, "--arm 2 blend: must be"),
        (["--arm", "control:0.5", "--arm", "b:0.5:colour=red"], 2, "'colour=red' is not"),
        (["--arm", "control:0.5:blend=0.2", "--arm", "b:0.5"], 2, "--arm 1: the first arm"),
        (["--arm", "control:0.5", "--arm", "b:0.4"], 2, "--arm: arm shares sum to 0.9"),
        (["--arm", "control:0.5", "--arm", "b:0.5:model_version=999999999"], 2,
         "--arm 2 model_version: no model version"),
        (["--arms-file", "/no/such/file.json"], 2, "--arms-file /no/such/file.json"),
    ],
)  # fmt: skip
def test_bad_input_is_named_with_exit_2(conn, args, status, wording):
    answer = recsysctl("start", fresh(), "--surface", "home", *args)
    assert answer.returncode == status, answer.stderr
    assert wording in answer.stderr
    assert "Traceback" not in answer.stderr
    assert store.running(conn) == {}


def test_a_busy_surface_exits_1_and_an_unknown_name_2(conn):
    arms = ["--arm", "control:0.5", "--arm", "b:0.5:blend=0.5"]
    first = fresh()
    assert recsysctl("start", first, "--surface", "home", *arms).returncode == 0
    busy = recsysctl("start", fresh(), "--surface", "home", *arms)
    assert busy.returncode == 1 and first in busy.stderr
    unknown = recsysctl("show", "no-such-experiment")
    assert unknown.returncode == 2 and "NAME: no experiment 'no-such-experiment'" in unknown.stderr
    missing = recsysctl("start", fresh(), *arms)  # no --surface: argparse's own usage error
    assert missing.returncode == 2 and "--surface" in missing.stderr
