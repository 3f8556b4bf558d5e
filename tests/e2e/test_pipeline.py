"""End to end on the real stack: simulator -> HTTP API (gunicorn) -> Kafka -> play_counters
DAG (dag.test, spark-submit) -> Parquet lake and PostgreSQL counters."""

import datetime as dt
from collections import Counter, defaultdict

import pytest

from recsys import db, simulator
from recsys.events import is_play
from spark_jobs import lake
from tests.e2e.conftest import interval_starts

pytestmark = pytest.mark.integration

COUNTER_TABLES = {
    "analytics.counter_runs": "select interval_start, interval_end, events, plays, completes,"
    " skips, seconds_heard from analytics.counter_runs order by 1",
    "analytics.song_interval_stats": "select * from analytics.song_interval_stats order by 1, 2, 3",
    "analytics.song_daily_stats": "select event_date, song_id, events, plays, completes, skips,"
    " listeners, seconds_heard from analytics.song_daily_stats order by 1, 2",
    "catalog.songs": "select id, plays_cumulative from catalog.songs order by 1",
}


def snapshot(settings) -> dict[str, list]:
    with db.connect(settings) as conn:
        return {table: conn.execute(sql).fetchall() for table, sql in COUNTER_TABLES.items()}


def lake_rows(spark, settings) -> list:
    return lake.read_events(spark, settings.lake_uri).collect()


def brute_force(rows, windows, play_min_seconds):
    """Daily stats and cumulative plays recomputed row by row in plain Python from the lake
    rows appended in the counted ``windows`` ([start, end) pairs)."""
    daily = defaultdict(Counter)
    listeners = defaultdict(set)
    for r in rows:
        appended = r.kafka_timestamp.replace(tzinfo=dt.UTC)
        if not any(s <= appended < e for s, e in windows):
            continue
        key = (r.date, r.track_id)
        play = is_play(r.action, r.duration, play_min_seconds)
        daily[key].update(
            events=1,
            plays=int(play),
            completes=int(r.action == "complete"),
            skips=int(r.action == "skip"),
            seconds_heard=r.duration,
        )
        if play:
            listeners[key].add(r.user_id)
    table = sorted(
        (
            day,
            song,
            c["events"],
            c["plays"],
            c["completes"],
            c["skips"],
            len(listeners[(day, song)]),
            c["seconds_heard"],
        )
        for (day, song), c in daily.items()
    )
    cumulative = Counter()
    for (_, song), c in daily.items():
        cumulative[song] += c["plays"]
    return table, cumulative


def test_ten_thousand_events_land_once_and_count_exactly(
    webapp_server, run_interval, spark, settings, world
):
    ids_before = {r.event_id for r in lake_rows(spark, settings)}
    started = dt.datetime.now(dt.UTC)
    report = simulator.simulate(
        settings, world, count=10_000, rate=None, users=None, via="http", progress=False, seed=3
    )
    finished = dt.datetime.now(dt.UTC)
    assert (report.accepted, report.rejected, report.failed) == (10_000, 0, 0)

    intervals = interval_starts(started - dt.timedelta(seconds=2), finished)
    for start in intervals:
        run_interval(start)

    rows = lake_rows(spark, settings)
    ids = [r.event_id for r in rows]
    assert len(ids) == len(set(ids)), "an event_id landed twice"
    assert set(ids) - ids_before == set(report.accepted_event_ids)

    first = snapshot(settings)
    # the warehouse holds every interval counted so far (earlier tests' too): all of them
    # must equal the brute force, and this test's intervals must be among them
    counted = [(r[0], r[1]) for r in first["analytics.counter_runs"]]
    assert {start for start, _ in counted} >= set(intervals)
    expected_daily, expected_cumulative = brute_force(rows, counted, settings.play_min_seconds)
    assert first["analytics.song_daily_stats"] == expected_daily
    cumulative = {song: plays for song, plays in first["catalog.songs"] if plays}
    assert cumulative == {s: p for s, p in expected_cumulative.items() if p}
    assert sum(r[2] for r in first["analytics.counter_runs"]) == sum(r[2] for r in expected_daily)

    for start in intervals:  # the same intervals again: nothing may change
        run_interval(start)
    assert snapshot(settings) == first
