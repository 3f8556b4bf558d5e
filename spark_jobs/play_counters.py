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

import spark_jobs.common.warehouse_store as store
from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events
from spark_jobs.common.play_stats import (
    appended,
    daily_listener_pairs,
    interval_events,
    lake_checksums,
    song_interval_stats,
)
from spark_jobs.common.session import spark_session


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
    rows = read_events(spark, settings.lake_uri)
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
