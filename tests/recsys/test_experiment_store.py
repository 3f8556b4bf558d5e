"""Experiments in the real PostgreSQL: start, list, stop, one running per surface, model
versions checked against the registry, pruning keeps what an arm serves, and the results
read from analytics.online_metrics against a hand computation."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from recsys import db
from recsys import experiment_store as store
from recsys import model_registry as registry
from recsys.experiments import Arm

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 3, 1)
_names = itertools.count(1)


def fresh(prefix: str = "exp") -> str:
    return f"{prefix}-{next(_names)}-{dt.datetime.now().strftime('%H%M%S%f')}"


def record_version(conn, status: str = "passed") -> int:
    version = registry.create_run(
        conn, DAY, DAY + dt.timedelta(days=90), DAY + dt.timedelta(days=83), {"rank": 4}, None
    )
    if status in ("passed", "pruned"):
        with conn.transaction():
            registry.write_factors(conn, version, ["u1"], np.ones((1, 4)), ["s1"], np.ones((1, 4)))
    registry.finish_run(conn, version, status, None if status == "passed" else "test")
    return version


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test teardown")


TWO_ARMS = [Arm("control", 0.5), Arm("low_blend", 0.5, blend=0.5)]


def test_start_list_get_and_stop(conn):
    name = fresh()
    started = store.start(conn, name, "home", TWO_ARMS, started_by="test", notes="why")
    assert (started.status, started.surface, started.arms) == ("running", "home", tuple(TWO_ARMS))
    assert store.running_for_surface(conn, "home").name == name
    assert store.running_for_surface(conn, "up_next") is None
    assert store.list_experiments(conn)[0].name == name  # running ones first

    stopped = store.stop(conn, name, "test")
    assert stopped.status == "stopped" and stopped.stopped_by == "test"
    assert stopped.stopped_at >= started.started_at
    assert store.get(conn, name).status == "stopped"
    assert store.running_for_surface(conn, "home") is None


@pytest.mark.parametrize(
    ("name", "surface", "arms", "field", "wording"),
    [
        ("has space", "home", TWO_ARMS, "name", "letters, digits"),
        ("ok", "search", TWO_ARMS, "surface", "home, up_next"),
        ("ok", "home", [Arm("control", 1.0)], "arms", "at least 2 arms"),
        ("ok", "home", [Arm("c", 0.5), Arm("b", 0.6)], "arms", "sum to"),
        ("ok", "home", [Arm("c", 0.5, blend=0.2), Arm("b", 0.5)], "arms[0]", "control"),
        ("ok", "home", [Arm("c", 0.5), Arm("b", 0.5, blend=1.5)], "arms[1].blend", "0 to 1"),
        ("ok", "up_next", [Arm("c", 0.5), Arm("b", 0.5, model_version=1)],
         "arms[1].model_version", "active model"),
        ("ok", "home", [Arm("c", 0.5), Arm("b", 0.5, blend=0.5, random=True)],
         "arms[1].random", "no model_version or blend"),
    ],
)  # fmt: skip
def test_a_bad_definition_names_the_field(conn, name, surface, arms, field, wording):
    with pytest.raises(store.InvalidExperiment) as raised:
        store.start(conn, name, surface, arms, started_by="test")
    assert [f for f, _ in raised.value.problems] == [field]
    assert wording in raised.value.problems[0][1]
    assert store.running(conn) == {}


@pytest.mark.parametrize("status", ["unknown", "rejected", "pruned"])
def test_an_arm_serves_only_an_existing_servable_version(conn, status):
    version = 10**9 if status == "unknown" else record_version(conn, status)
    arms = [Arm("control", 0.5), Arm("model", 0.5, model_version=version)]
    with pytest.raises(store.InvalidExperiment) as raised:
        store.start(conn, fresh(), "home", arms, started_by="test")
    ((field, reason),) = raised.value.problems
    assert field == "arms[1].model_version"
    assert (f"no model version {version}" if status == "unknown" else f"is {status}") in reason


def test_one_running_experiment_per_surface_and_names_are_never_reused(conn):
    first, second = fresh(), fresh()
    store.start(conn, first, "home", TWO_ARMS, started_by="test")
    with pytest.raises(store.ExperimentConflict) as busy:
        store.start(conn, second, "home", TWO_ARMS, started_by="test")
    assert busy.value.field == "surface" and first in str(busy.value)
    store.start(conn, second, "up_next", TWO_ARMS, started_by="test")  # the other surface

    store.stop(conn, first, "test")
    with pytest.raises(store.ExperimentConflict) as taken:
        store.start(conn, first, "home", TWO_ARMS, started_by="test")
    assert taken.value.field == "name"
    store.start(conn, fresh(), "home", TWO_ARMS, started_by="test")  # the surface is free


def test_stopping_an_unknown_or_stopped_experiment(conn):
    with pytest.raises(store.UnknownExperiment):
        store.stop(conn, "never-started", "test")
    name = fresh()
    store.start(conn, name, "up_next", TWO_ARMS, started_by="test")
    store.stop(conn, name, "test")
    with pytest.raises(store.ExperimentConflict, match="stopped already"):
        store.stop(conn, name, "test")


def test_prune_keeps_a_version_a_running_experiment_serves(conn):
    served = record_version(conn)
    for _ in range(3):
        record_version(conn)
    name = fresh()
    store.start(conn, name, "home", [Arm("c", 0.5), Arm("old", 0.5, model_version=served)], "t")

    pruned = registry.prune(conn, keep=1)
    assert served not in pruned and pruned  # others, as old, went
    assert registry.get_version(conn, served).status == "passed"

    store.stop(conn, name, "test")
    assert served in registry.prune(conn, keep=1)
    assert registry.get_version(conn, served).status == "pruned"


def metrics_row(conn, experiment, arm, day, version, shown, plays, completes, skips):
    conn.execute(
        "insert into analytics.online_metrics (day, surface, model_version, experiment,"
        " experiment_arm, impressions, items_shown, songs_shown, attributed_events, plays,"
        " completes, skips, likes, dislikes, seconds_listened, computed_at)"
        " values (%s, 'home', %s, %s, %s, %s, %s, 10, %s, %s, %s, %s, 1, 0, %s, now())",
        (day, version, experiment, arm, shown // 10, shown, plays, plays, completes, skips,
         plays * 100),
    )  # fmt: skip


def test_results_sum_the_days_and_versions_and_match_a_hand_computed_lift(conn):
    name = fresh()
    arms = [Arm("control", 0.4), Arm("random", 0.4, random=True), Arm("tiny", 0.2, blend=0.1)]
    store.start(conn, name, "home", arms, started_by="test")
    # control: 300 completes, 200 skips, 500 plays of 2000 shown, over two days and versions
    metrics_row(conn, name, "control", DAY, 1, 1000, 250, 150, 100)
    metrics_row(conn, name, "control", DAY + dt.timedelta(days=1), 2, 1000, 250, 150, 100)
    # random: 200 completes, 300 skips, 500 plays of 2000 shown
    metrics_row(conn, name, "random", DAY, None, 2000, 500, 200, 300)
    # tiny: 20 playbacks, under the 30 a verdict needs
    metrics_row(conn, name, "tiny", DAY, 1, 100, 20, 15, 5)
    metrics_row(conn, "another-experiment", "control", DAY, 1, 1000, 999, 999, 0)

    found = store.results(conn, name)

    by_arm = {arm["name"]: arm for arm in found["arms"]}
    control = by_arm["control"]
    assert control["control"] is True and control["lift"] is None
    assert control["totals"]["impressions"] == 200
    assert (control["totals"]["completes"], control["totals"]["skips"]) == (300, 200)
    assert control["totals"]["first_day"] == "2026-03-01"
    assert control["totals"]["last_day"] == "2026-03-02"
    assert control["rates"] == {"play_through_rate": 0.6, "skip_rate": 0.4, "play_rate": 0.25}

    through = by_arm["random"]["lift"]["play_through_rate"]
    # 0.4 - 0.6, half width 1.959964 * sqrt(0.6 * 0.4 / 500 + 0.4 * 0.6 / 500) = 0.0607273
    assert through["difference"] == pytest.approx(-0.2)
    assert through["low"] == pytest.approx(-0.2607273, abs=1e-6)
    assert through["high"] == pytest.approx(-0.1392727, abs=1e-6)
    assert through["relative"] == pytest.approx(-0.2 / 0.6)
    assert (through["significant"], through["verdict"]) == (True, "worse")
    skip = by_arm["random"]["lift"]["skip_rate"]
    assert skip["difference"] == pytest.approx(0.2)
    assert (skip["higher_is_better"], skip["verdict"]) == (False, "worse")
    play = by_arm["random"]["lift"]["play_rate"]
    assert play["difference"] == pytest.approx(0.0)
    assert play["verdict"] == "not yet significant"
    assert by_arm["tiny"]["lift"]["play_through_rate"]["verdict"] == "not enough data"


def test_results_of_an_experiment_without_rows_yet(conn):
    name = fresh()
    store.start(conn, name, "up_next", TWO_ARMS, started_by="test")
    found = store.results(conn, name)
    assert [a["totals"]["impressions"] for a in found["arms"]] == [0, 0]
    lift = found["arms"][1]["lift"]["play_through_rate"]
    assert (lift["difference"], lift["verdict"]) == (None, "not enough data")
    with pytest.raises(store.UnknownExperiment):
        store.results(conn, "never-started")
