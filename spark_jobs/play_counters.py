"""Count one data interval of the listening log into the warehouse's play counters.

Reads:  the lake's events whose Kafka append time lies in [--start, --end).
Writes: in one PostgreSQL transaction, the interval's row in analytics.counter_runs (with
        the checksums of the lake rows it counted and of the ledger rows it wrote), its
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
import sys
from datetime import datetime

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs import counters_store as store
from spark_jobs import lake
from spark_jobs.session import spark_session


def appended(events: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """The lake rows the broker appended in [start, end), copies included."""
    ts = F.col("kafka_timestamp")
    return events.where((ts >= F.lit(start)) & (ts < F.lit(end)))


def interval_events(events: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """Events the broker appended in [start, end), each event_id once, partitioned by song.

    An event's copies share its song, so deduplicating per (song, event_id) is deduplicating
    per event_id, and the per-song aggregates that follow need no further shuffle.
    """
    return (
        appended(events, start, end)
        .repartition("track_id")
        .dropDuplicates(["track_id", "event_id"])
    )


def lake_checksums(rows: DataFrame, by: tuple = ()) -> DataFrame:
    """Per ``by`` group of lake rows (copies included): ``lake_rows`` and ``lake_checksum``,
    the sum of a 64-bit hash of each row's fields, which changes when a row is added,
    removed or rewritten (counters_store.LakeChecksum).

    The hashes' high and low 32 bits are summed apart, as longs (no overflow below 2**31
    rows), and put together once per group: summing 64-bit values as decimals is slower."""
    row_hash = F.xxhash64(*lake.LAKE_SCHEMA.fieldNames())
    sums = rows.groupBy(*by).agg(
        F.count(F.lit(1)).alias("lake_rows"),
        F.coalesce(F.sum(F.shiftright(row_hash, 32)), F.lit(0)).alias("high"),
        F.coalesce(F.sum(row_hash.bitwiseAND(F.lit(0xFFFFFFFF))), F.lit(0)).alias("low"),
    )
    checksum = F.col("high").cast("decimal(38,0)") * F.lit(2**32) + F.col("low")
    return sums.select(*by, "lake_rows", checksum.cast("decimal(38,0)").alias("lake_checksum"))


def is_play(play_min_seconds: int):
    """recsys.events.is_play as a column: one play per playback, never two."""
    heard = F.col("duration") >= play_min_seconds
    return ((F.col("action") == "listen") & heard) | (
        (F.col("action") == "complete") & (F.col("playback_id").isNull() | ~heard)
    )


def is_progress():
    """recsys.events.is_progress as a column: a playback's 30-s report, not its end."""
    return (F.col("action") == "listen") & F.col("playback_id").isNotNull()


def song_interval_stats(events: DataFrame, play_min_seconds: int, by: tuple = ()) -> DataFrame:
    """Per (event day, song): events, plays, completes, skips, listeners, seconds heard,
    playbacks.

    A play is ``is_play`` (a listen of at least ``play_min_seconds`` or a complete, one per
    playback); listeners are the distinct users with a play; seconds heard and playbacks
    leave out ``is_progress`` reports. ``by`` adds grouping columns in front (e.g. the
    interval).
    """
    play, ending = is_play(play_min_seconds), ~is_progress()
    return events.groupBy(
        *by, F.col("date").alias("event_date"), F.col("track_id").alias("song_id")
    ).agg(
        F.count(F.lit(1)).alias("events"),
        F.sum(play.cast("long")).alias("plays"),
        F.sum((F.col("action") == "complete").cast("long")).alias("completes"),
        F.sum((F.col("action") == "skip").cast("long")).alias("skips"),
        F.countDistinct(F.when(play, F.col("user_id"))).alias("listeners"),
        F.sum(F.when(ending, F.col("duration").cast("long"))).alias("seconds_heard"),
        F.sum(ending.cast("long")).alias("playbacks"),
    )


def daily_listener_pairs(events: DataFrame, play_min_seconds: int, by: tuple = ()) -> DataFrame:
    """Distinct (event day, song, user) with a play: the day's listeners, exactly."""
    return (
        events.where(is_play(play_min_seconds))
        .select(
            *by, F.col("date").alias("event_date"), F.col("track_id").alias("song_id"), "user_id"
        )
        .distinct()
    )


def write_interval(
    settings: Settings,
    start: datetime,
    end: datetime,
    stats: pa.Table,
    pairs: pa.Table,
    lake_rows: store.LakeChecksum,
) -> store.IntervalTotals:
    """Replace the interval's counters and re-derive what depends on them, atomically."""
    with db.connect(settings) as conn, conn.transaction():
        store.begin(conn)
        totals = store.replace_interval(conn, start, end, stats, pairs, lake_rows)
        store.rederive(conn)
    return totals


def count_interval(
    spark, settings: Settings, start: datetime, end: datetime
) -> store.IntervalTotals:
    rows = lake.read_events(spark, settings.lake_uri)
    checksum = lake_checksums(appended(rows, start, end)).first()
    events = interval_events(rows, start, end).cache()
    stats = song_interval_stats(events, settings.play_min_seconds).toArrow()
    pairs = daily_listener_pairs(events, settings.play_min_seconds).toArrow()
    events.unpersist()
    lake_rows = store.LakeChecksum(checksum["lake_rows"], checksum["lake_checksum"])
    return write_interval(settings, start, end, stats, pairs, lake_rows)


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
