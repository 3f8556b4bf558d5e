"""Driving the pipeline's jobs from tests, in the test session's Spark: land what is on
Kafka, count the 15-minute intervals up to now; and a snapshot of the warehouse tables
they write, to compare runs."""

import datetime as dt

from recsys import db
from spark_jobs import land_events, play_counters

UTC = dt.UTC


def land(spark, settings):
    for query in land_events.start_queries(spark, settings, land_events.parse_args([])):
        query.awaitTermination()


def count_now(spark, settings, since: dt.datetime):
    """Count every 15-minute interval from ``since`` to now (what play_counters would do)."""
    start = since.replace(minute=since.minute - since.minute % 15, second=0, microsecond=0)
    now = dt.datetime.now(UTC)
    while start <= now:
        play_counters.count_interval(spark, settings, start, start + dt.timedelta(minutes=15))
        start += dt.timedelta(minutes=15)


def warehouse_state(settings):
    with db.connect(settings) as conn:
        return {
            "history": conn.execute(
                "select * from analytics.trending_history order by 1, 2"
            ).fetchall(),
            "plays_7d": conn.execute(
                "select id, plays_7d, plays_cumulative from catalog.songs order by 1"
            ).fetchall(),
            "daily": conn.execute(
                "select event_date, song_id, events, plays, completes, skips, listeners,"
                " seconds_heard from analytics.song_daily_stats order by 1, 2"
            ).fetchall(),
            "ledger": conn.execute(
                "select * from analytics.song_interval_stats order by 1, 2, 3"
            ).fetchall(),
        }
