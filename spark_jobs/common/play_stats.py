"""How the listening log is counted, for every job that counts it: the play rule as Spark
columns (``is_play``, ``is_progress``), an interval's lake rows (``appended``; each event
once: ``interval_events``), and the per-(day, song) stats, listener pairs and lake checksums
that play_counters writes for one interval and trending_resync recomputes for every interval
it checks, so both count exactly alike.

Pure DataFrame -> DataFrame functions over lake rows (``LAKE_SCHEMA``): they read and
write nothing themselves.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.lake import CHECKSUM_FIELDS


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
    removed or rewritten (warehouse_store.LakeChecksum).

    The hashes' high and low 32 bits are summed apart, as longs (no overflow below 2**31
    rows), and put together once per group: summing 64-bit values as decimals is slower."""
    row_hash = F.xxhash64(*CHECKSUM_FIELDS)
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
        # 0, not null, for a song whose only events are progress reports (its playback
        # ended in another interval, or never: the listener closed the page mid-song)
        F.coalesce(F.sum(F.when(ending, F.col("duration").cast("long"))), F.lit(0)).alias(
            "seconds_heard"
        ),
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
