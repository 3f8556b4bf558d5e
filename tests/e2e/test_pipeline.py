"""End to end on the real stack: simulator -> HTTP API (gunicorn) -> Kafka -> play_counters
DAG (dag.test, spark-submit) -> Parquet lake and PostgreSQL counters."""

import datetime as dt

import pytest

from recsysctl import simulator
from tests.pipeline_helpers import (
    assert_counters_equal_the_lake,
    counter_tables,
    interval_starts,
    lake_rows,
    settle,
)

pytestmark = pytest.mark.integration


def test_ten_thousand_events_land_once_and_count_exactly(
    webapp_server, run_interval, spark, settings, world
):
    settle(spark, settings)  # earlier tests' events, counted as the scheduled runs would
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

    first = counter_tables(settings)
    # the warehouse holds every interval counted so far (earlier tests' too): all of them
    # must equal the brute force, and this test's intervals must be among them
    counted = assert_counters_equal_the_lake(first, rows, settings.play_min_seconds)
    assert {start for start, _ in counted} >= set(intervals)

    for start in intervals:  # the same intervals again: nothing may change
        run_interval(start)
    assert counter_tables(settings) == first
