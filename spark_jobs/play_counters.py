"""Count one data interval of the listening log into the warehouse's play counters.

Reads:  the lake's events whose Kafka append time lies in [--start, --end).
Writes: in one PostgreSQL transaction, the interval's row in analytics.counter_runs, its
        analytics.song_interval_stats (per event day and song), the day's listeners in
        analytics.song_daily_listeners, then re-derives analytics.song_daily_stats and
        catalog.songs.plays_cumulative for every (day, song) the interval touches.

Re-running an interval replaces its rows and re-derives the same totals, so retries and
backfills never double count; an interval overlapping another counted one is refused.

    spark-submit spark_jobs/play_counters.py --start 2026-11-21T10:00:00+00:00 \
        --end 2026-11-21T10:15:00+00:00
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs import lake
from spark_jobs.session import spark_session

STAT_COLUMNS = ("events", "plays", "completes", "skips", "listeners", "seconds_heard")


def interval_events(events: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """Events the broker appended in [start, end), each event_id once."""
    return events.where(
        (F.col("kafka_timestamp") >= F.lit(start)) & (F.col("kafka_timestamp") < F.lit(end))
    ).dropDuplicates(["event_id"])


def is_play(play_min_seconds: int):
    return (F.col("action") == "complete") | (
        (F.col("action") == "listen") & (F.col("duration") >= play_min_seconds)
    )


def song_interval_stats(events: DataFrame, play_min_seconds: int) -> DataFrame:
    """Per (event day, song): events, plays, completes, skips, listeners, seconds heard.

    A play is a listen of at least ``play_min_seconds`` or a complete; listeners are the
    distinct users with a play.
    """
    play = is_play(play_min_seconds)
    return events.groupBy(
        F.col("date").alias("event_date"), F.col("track_id").alias("song_id")
    ).agg(
        F.count(F.lit(1)).alias("events"),
        F.sum(play.cast("long")).alias("plays"),
        F.sum((F.col("action") == "complete").cast("long")).alias("completes"),
        F.sum((F.col("action") == "skip").cast("long")).alias("skips"),
        F.countDistinct(F.when(play, F.col("user_id"))).alias("listeners"),
        F.sum(F.col("duration").cast("long")).alias("seconds_heard"),
    )


def daily_listener_pairs(events: DataFrame, play_min_seconds: int) -> DataFrame:
    """Distinct (event day, song, user) with a play: the day's listeners, exactly."""
    return (
        events.where(is_play(play_min_seconds))
        .select(F.col("date").alias("event_date"), F.col("track_id").alias("song_id"), "user_id")
        .distinct()
    )


@dataclass(frozen=True)
class IntervalTotals:
    events: int
    plays: int
    completes: int
    skips: int
    seconds_heard: int


def _csv(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _totals(stats: pa.Table) -> IntervalTotals:
    sums = {c: int(pc.sum(stats[c]).as_py() or 0) for c in STAT_COLUMNS}
    return IntervalTotals(
        sums["events"], sums["plays"], sums["completes"], sums["skips"], sums["seconds_heard"]
    )


def write_interval(
    settings: Settings, start: datetime, end: datetime, stats: pa.Table, pairs: pa.Table
) -> IntervalTotals:
    """Replace the interval's counters and re-derive what depends on them, atomically."""
    totals = _totals(stats)
    with db.connect(settings) as conn, conn.transaction():
        # One counter run at a time: two runs re-deriving the same day must not interleave.
        conn.execute("select pg_advisory_xact_lock(hashtext('analytics.counter_runs'))")
        conn.execute(
            "create temp table touched on commit drop as"
            " select distinct event_date, song_id from analytics.song_interval_stats"
            " where interval_start = %s",
            (start,),
        )
        conn.execute("delete from analytics.counter_runs where interval_start = %s", (start,))
        conn.execute(
            "delete from analytics.song_daily_listeners where first_interval_start = %s", (start,)
        )
        conn.execute(
            "insert into analytics.counter_runs (interval_start, interval_end, events, plays,"
            " completes, skips, seconds_heard) values (%s, %s, %s, %s, %s, %s, %s)",
            (
                start,
                end,
                totals.events,
                totals.plays,
                totals.completes,
                totals.skips,
                totals.seconds_heard,
            ),
        )
        interval_column = pa.array([start] * stats.num_rows, pa.timestamp("us", tz="UTC"))
        _copy(
            conn,
            "analytics.song_interval_stats",
            "interval_start, event_date, song_id, " + ", ".join(STAT_COLUMNS),
            _csv(stats.add_column(0, "interval_start", interval_column)),
        )
        conn.execute(
            "create temp table new_pairs (event_date date, song_id text, user_id text)"
            " on commit drop"
        )
        _copy(conn, "new_pairs", "event_date, song_id, user_id", _csv(pairs))
        conn.execute(
            "insert into analytics.song_daily_listeners"
            " select event_date, song_id, user_id, %s from new_pairs"
            " on conflict do nothing",
            (start,),
        )
        conn.execute(
            "insert into touched select distinct event_date, song_id"
            " from analytics.song_interval_stats where interval_start = %s",
            (start,),
        )
        _rederive(conn)
    return totals


def _copy(conn, table: str, columns: str, data: bytes) -> None:
    with conn.cursor().copy(f"copy {table} ({columns}) from stdin (format csv)") as copy:
        copy.write(data)


def _rederive(conn) -> None:
    """song_daily_stats and plays_cumulative for every touched (day, song), from the ledger."""
    conn.execute(
        """
        with keys as (select distinct event_date, song_id from touched),
        sums as (
            select k.event_date, k.song_id,
                   coalesce(sum(s.events), 0) as events, coalesce(sum(s.plays), 0) as plays,
                   coalesce(sum(s.completes), 0) as completes,
                   coalesce(sum(s.skips), 0) as skips,
                   coalesce(sum(s.seconds_heard), 0) as seconds_heard
            from keys as k
            left join analytics.song_interval_stats as s
                on s.event_date = k.event_date and s.song_id = k.song_id
            group by k.event_date, k.song_id
        )
        insert into analytics.song_daily_stats
            (event_date, song_id, events, plays, completes, skips, listeners, seconds_heard,
             updated_at)
        select sums.event_date, sums.song_id, sums.events, sums.plays, sums.completes,
               sums.skips,
               (select count(*) from analytics.song_daily_listeners as l
                where l.event_date = sums.event_date and l.song_id = sums.song_id),
               sums.seconds_heard, now()
        from sums
        on conflict (event_date, song_id) do update set
            events = excluded.events, plays = excluded.plays, completes = excluded.completes,
            skips = excluded.skips, listeners = excluded.listeners,
            seconds_heard = excluded.seconds_heard, updated_at = excluded.updated_at
        """
    )
    conn.execute(
        """
        update catalog.songs as songs
        set plays_cumulative = totals.plays, updated_at = now()
        from (
            select d.song_id, sum(d.plays) as plays
            from analytics.song_daily_stats as d
            where d.song_id in (select song_id from touched)
            group by d.song_id
        ) as totals
        where songs.id = totals.song_id and songs.plays_cumulative <> totals.plays
        """
    )


def count_interval(spark, settings: Settings, start: datetime, end: datetime) -> IntervalTotals:
    events = interval_events(lake.read_events(spark, settings.lake_uri), start, end).cache()
    stats = song_interval_stats(events, settings.play_min_seconds).toArrow()
    pairs = daily_listener_pairs(events, settings.play_min_seconds).toArrow()
    events.unpersist()
    return write_interval(settings, start, end, stats, pairs)


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. +00:00")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--start",
        type=_timestamp,
        required=True,
        help="interval start, ISO 8601 with offset (inclusive)",
    )
    parser.add_argument(
        "--end",
        type=_timestamp,
        required=True,
        help="interval end, ISO 8601 with offset (exclusive)",
    )
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error("--end must be after --start")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("play_counters", settings)
    totals = count_interval(spark, settings, args.start, args.end)
    print(f"counted [{args.start.isoformat()}, {args.end.isoformat()}): {totals}")


if __name__ == "__main__":
    main()
