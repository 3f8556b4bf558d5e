"""Driving the pipeline's jobs from tests, in the test session's Spark: land what is on
Kafka, count the 15-minute intervals up to now; snapshots of the warehouse tables they
write, to compare runs; and the play counters recomputed by brute force from the lake."""

import datetime as dt
from collections import Counter, defaultdict

from recsys import db
from recsys.events import is_play, is_progress
from spark_jobs import land_events, play_counters
from spark_jobs.common import lake

UTC = dt.UTC


def land(spark, settings):
    for query in land_events.start_queries(spark, settings, land_events.parse_args([])):
        query.awaitTermination()


def interval_starts(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Every 15-minute counter interval start from the one holding ``first`` to ``last``'s."""
    start = first.replace(minute=first.minute - first.minute % 15, second=0, microsecond=0)
    starts = []
    while start <= last:
        starts.append(start)
        start += dt.timedelta(minutes=15)
    return starts


def count_now(spark, settings, since: dt.datetime):
    """Count every 15-minute interval from ``since`` to now (what play_counters would do)."""
    start = since.replace(minute=since.minute - since.minute % 15, second=0, microsecond=0)
    now = dt.datetime.now(UTC)
    while start <= now:
        play_counters.count_interval(spark, settings, start, start + dt.timedelta(minutes=15))
        start += dt.timedelta(minutes=15)


def settle(spark, settings):
    """Land what Kafka holds, then re-count every interval counted before it had closed.

    The scheduled play_counters run starts after its interval ends; tests count the interval
    still open to go fast, so a later test's events may land in an interval already counted.
    Settling brings the counters to what the scheduled runs would have counted, so a test can
    compare every counted interval with the lake."""
    land(spark, settings)
    with db.connect(settings) as conn:
        stale = conn.execute(
            "select interval_start, interval_end from analytics.counter_runs"
            " where counted_at < interval_end + interval '5 minutes' order by 1"
        ).fetchall()
    for start, end in stale:
        play_counters.count_interval(spark, settings, start, end)


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
                " seconds_heard, playbacks from analytics.song_daily_stats order by 1, 2"
            ).fetchall(),
            "ledger": conn.execute(
                "select * from analytics.song_interval_stats order by 1, 2, 3"
            ).fetchall(),
        }


COUNTER_TABLES = {
    "analytics.counter_runs": "select interval_start, interval_end, events, plays, completes,"
    " skips, seconds_heard from analytics.counter_runs order by 1",
    "analytics.song_interval_stats": "select * from analytics.song_interval_stats order by 1, 2, 3",
    "analytics.song_daily_stats": "select event_date, song_id, events, plays, completes, skips,"
    " listeners, seconds_heard, playbacks from analytics.song_daily_stats order by 1, 2",
    "catalog.songs": "select id, plays_cumulative from catalog.songs order by 1",
}


def counter_tables(settings) -> dict[str, list]:
    """The play counters' tables, row by row."""
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
        play = is_play(r.action, r.duration, play_min_seconds, r.playback_id)
        progress = is_progress(r.action, r.playback_id)
        daily[key].update(
            events=1,
            plays=int(play),
            completes=int(r.action == "complete"),
            skips=int(r.action == "skip"),
            seconds_heard=0 if progress else r.duration,
            playbacks=int(not progress),
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
            c["playbacks"],
        )
        for (day, song), c in daily.items()
    )
    cumulative = Counter()
    for (_, song), c in daily.items():
        cumulative[song] += c["plays"]
    return table, cumulative


def assert_counters_equal_the_lake(tables, rows, play_min_seconds) -> list[tuple]:
    """The counters in ``tables`` (``counter_tables``) equal the brute force over the lake
    ``rows`` for every interval counted so far: the daily stats, the cumulative plays and
    the ledger's total. Returns the counted windows."""
    counted = [(r[0], r[1]) for r in tables["analytics.counter_runs"]]
    expected_daily, expected_cumulative = brute_force(rows, counted, play_min_seconds)
    assert tables["analytics.song_daily_stats"] == expected_daily
    cumulative = {song: plays for song, plays in tables["catalog.songs"] if plays}
    assert cumulative == {s: p for s, p in expected_cumulative.items() if p}
    assert sum(r[2] for r in tables["analytics.counter_runs"]) == sum(r[2] for r in expected_daily)
    return counted
