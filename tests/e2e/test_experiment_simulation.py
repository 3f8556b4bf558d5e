"""Experiments end to end, with listeners who respond by their hidden tastes: the real
gunicorn app serves the trained ALS model and the experiments' arms, the responding
simulator (recsysctl.responding_traffic) plays what it is shown, the events and impressions
are landed in the lake, the online_metrics job attributes them, and the admin API reads the
verdicts.

A/B: the control (the active model) against random songs on home: the random arm's
play-through is "worse", its interval clear of 0. A/A: two identical arms: "not yet
significant". Seeded: the listeners make the same choices for the same answers."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from recsys import db
from recsys import experiment_store as store
from recsysctl.responding_traffic import format_report, simulate_responses
from spark_jobs import online_metrics
from tests.kafka_helpers import end_offsets
from tests.pipeline_helpers import land

pytestmark = pytest.mark.integration

# 60 listeners (the small world) x 10 sessions: about 600 home answers per experiment.
SESSIONS = 10
CONTROL = {"name": "control", "share": 0.5}
EXPERIMENTS = {  # kind: (arms, the listeners' seed)
    "ab": ([CONTROL, {"name": "random", "share": 0.5, "random": True}], 21),
    "aa": ([CONTROL, {"name": "same", "share": 0.5}], 22),
}


def _admin(settings) -> dict:
    return {"Authorization": f"Bearer {settings.admin_token}"}


def _experiments_url(settings) -> str:
    return f"{settings.webapp_url}/api/v1/admin/experiments"


def run_experiment(settings, world, name: str, arms: list[dict], seed: int):
    """Start ``name`` on home, let every worker see it, send the listeners, stop it."""
    started = requests.post(
        _experiments_url(settings),
        json={"name": name, "surface": "home", "arms": arms},
        headers=_admin(settings),
        timeout=10,
    )
    assert started.status_code == 201, started.text
    time.sleep(settings.experiments_cache_s + 0.5)  # each worker reads it again by then
    report = simulate_responses(
        settings, world, sessions=SESSIONS, seed=seed, threads=4, progress=False
    )
    stopped = requests.post(
        f"{_experiments_url(settings)}/{name}/stop", headers=_admin(settings), timeout=10
    )
    assert stopped.status_code == 200, stopped.text
    print(f"\n{name}\n{format_report(report)}")
    assert report.count("accepted") == len(report.events)
    return report


def _wait_for_impressions(settings, start: dict[int, int], answers: int) -> None:
    """The web app logs impressions without waiting: until every answer is on the topic."""
    topic = settings.kafka_impressions_topic
    deadline = time.monotonic() + 60
    while sum(end_offsets(settings, topic).values()) - sum(start.values()) < answers:
        assert time.monotonic() < deadline, "the impressions did not all reach Kafka"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def verdicts(spark, settings, webapp_server, als_model, world):
    """Both experiments run, landed and measured: {"ab": results, "aa": results}."""
    with db.connect(settings, autocommit=True) as conn:
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test setup")
    time.sleep(settings.experiments_cache_s + 0.5)
    impressions_start = end_offsets(settings, settings.kafka_impressions_topic)
    first_day = dt.datetime.now(dt.UTC).date()
    # Fixed names: the name is hashed with the listener into the arm, so the split repeats
    # (each test session has its own database, where names are never reused).
    names = {kind: f"{kind}-home" for kind in EXPERIMENTS}
    reports = {
        kind: run_experiment(settings, world, names[kind], arms, seed)
        for kind, (arms, seed) in EXPERIMENTS.items()
    }
    answers = sum(s.answer is not None for r in reports.values() for s in r.steps)
    _wait_for_impressions(settings, impressions_start, answers)
    land(spark, settings)
    day = first_day
    while day <= dt.datetime.now(dt.UTC).date():  # the day the run crossed midnight too
        online_metrics.run(spark, settings, day)
        day += dt.timedelta(days=1)
    results = {}
    for kind, name in names.items():
        shown = requests.get(
            f"{_experiments_url(settings)}/{name}", headers=_admin(settings), timeout=10
        )
        assert shown.status_code == 200, shown.text
        results[kind] = shown.json()
        _print_lifts(results[kind])
    return results


def _print_lifts(result: dict) -> None:
    print(f"\n{result['name']}")
    for arm in result["arms"]:
        totals = arm["totals"]
        print(
            f"  {arm['name']:8} impressions {totals['impressions']:4} completes"
            f" {totals['completes']:4} skips {totals['skips']:4} plays {totals['plays']:4}"
        )
        for rate, lift in (arm["lift"] or {}).items():
            print(
                f"    {rate:17} {lift['control_rate']:.3f} -> {lift['arm_rate']:.3f}:"
                f" {lift['difference']:+.3f} [{lift['low']:+.3f}, {lift['high']:+.3f}]"
                f" {lift['verdict']}"
            )


def test_random_songs_play_through_worse_than_the_model(verdicts):
    control, random_arm = verdicts["ab"]["arms"]
    assert min(control["totals"]["playbacks"], random_arm["totals"]["playbacks"]) >= 100
    play_through = random_arm["lift"]["play_through_rate"]
    assert play_through["verdict"] == "worse"
    assert play_through["significant"] and play_through["high"] < 0
    assert random_arm["lift"]["skip_rate"]["verdict"] == "worse"


def test_identical_arms_are_not_significantly_different(verdicts):
    control, same = verdicts["aa"]["arms"]
    assert min(control["totals"]["playbacks"], same["totals"]["playbacks"]) >= 100
    for rate in ("play_through_rate", "skip_rate"):
        lift = same["lift"][rate]
        assert lift["verdict"] == "not yet significant", (rate, lift)
        assert lift["low"] < 0 < lift["high"]
