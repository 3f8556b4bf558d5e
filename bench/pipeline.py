"""Batch jobs against the raw Spark scan of the same lake data (the floor):

- play_counters for one 15-minute interval holding 1,000,000 events (target: under 60 s);
- trending_resync over 30 days of the large demo dataset (target: within 3x the raw scan).

Each floor reads the rows its job reads: the interval's events; for the resync, the 8 event
days of today's and yesterday's windows and the counted interval its drift check re-counts.
A scan of the whole lake first warms the JVM, so no measurement pays for class loading. The
resync's ratio is taken between warm runs: the day before is resynced first, as last night's
run would have (its time is printed, as the first run in a fresh JVM, which a nightly
spark-submit pays); then the floor's scan and the day's resync run in turn, ROUNDS times, and
the medians are compared, so both see the same JIT and the same noise. play_counters' target
is in seconds, not a ratio: its one run is timed as it comes, cold.

The lake is written straight to Parquet in the landing job's layout (Kafka is not what is
measured here), on a throwaway PostgreSQL, so the ``make up`` stack is never touched.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from bench.stack import throwaway_stack
from recsys import lake as lake_paths
from recsys.lake import events_path
from recsysctl import demo
from spark_jobs import play_counters, trending_resync
from spark_jobs.common import lake
from spark_jobs.common.session import spark_session


def write_lake(
    lake_uri: str, events: list[dict], appended_from: datetime, spread: timedelta
) -> None:
    """Events as the landing job would have written them, appended within ``spread``."""
    n = len(events)
    step = spread / max(n, 1)
    table = (
        pa.Table.from_pylist(events, schema=lake_paths.EVENT_COLUMNS)
        .append_column("kafka_partition", pa.array([i % 3 for i in range(n)], pa.int32()))
        .append_column("kafka_offset", pa.array(range(n), pa.int64()))
        .append_column(
            "kafka_timestamp",
            pa.array([appended_from + step * i for i in range(n)], pa.timestamp("us", "UTC")),
        )
    )
    days = pa.array([date.fromtimestamp(e["timestamp"] / 1000) for e in events], pa.date32())
    table = table.append_column("date", days)
    pq.write_to_dataset(table, events_path(lake_uri), partition_cols=["date"])


ROUNDS = 5


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def raw_scan(spark, lake_uri: str, *wheres) -> float:
    """The floor: read the rows matching any of ``wheres`` (one scan each, as the jobs read
    them) with every column the jobs use, and aggregate nothing."""
    events = lake.read_events(spark, lake_uri)
    rows = functools.reduce(DataFrame.unionByName, [events.where(w) for w in wheres])
    seconds, _ = timed(
        lambda: rows.agg(
            F.count("event_id"),
            F.countDistinct("user_id"),
            F.sum("duration"),
            F.count("track_id"),
            F.count("action"),
        ).collect()
    )
    return seconds


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval-events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    with throwaway_stack("large") as (settings, world):
        end = datetime.combine(date.today(), datetime.min.time(), UTC)
        print(f"generating {args.days} days of the large world's listening ...", flush=True)
        history = list(demo.generate_history(world, end, days=args.days))
        interval = (end + timedelta(hours=1), end + timedelta(hours=1, minutes=15))
        one_interval = (history * (args.interval_events // len(history) + 1))[
            : args.interval_events
        ]
        lake_uri = settings.lake_uri
        # the history arrived over its 30 days; one extra interval holds the 1M-event burst
        write_lake(lake_uri, history, end - timedelta(days=args.days), timedelta(days=args.days))
        write_lake(
            lake_uri,
            [{**e, "event_id": f"{e['event_id'][:-8]}{i:08x}"} for i, e in enumerate(one_interval)],
            interval[0],
            timedelta(minutes=14),
        )
        spark = spark_session("bench", settings)
        print(
            f"lake: {len(history):,} history events + {len(one_interval):,} in one interval",
            flush=True,
        )

        ts = F.col("kafka_timestamp")
        in_interval = (ts >= interval[0]) & (ts < interval[1])
        raw_scan(spark, lake_uri, F.lit(True))  # warm-up, not measured
        scan_interval = raw_scan(spark, lake_uri, in_interval)
        count_s, totals = timed(lambda: play_counters.count_interval(spark, settings, *interval))
        day = (end - timedelta(days=1)).date()
        first = day - timedelta(days=settings.trending_window_days - 1)
        in_days = F.col("date").between(first - timedelta(days=1), day)
        cold_s, _ = timed(lambda: trending_resync.resync(spark, settings, day - timedelta(days=1)))
        scans, resyncs = [], []
        for _ in range(ROUNDS):
            scans.append(raw_scan(spark, lake_uri, in_days, ~in_days & in_interval))
            seconds, report = timed(lambda: trending_resync.resync(spark, settings, day))
            resyncs.append(seconds)
        scan_window, resync_s = statistics.median(scans), statistics.median(resyncs)
        full_s, _ = timed(lambda: trending_resync.resync(spark, settings, day, full_check=True))

        print(f"\n{'job':44} {'seconds':>8} {'floor':>8} {'x floor':>8}  target")
        print(
            f"{'play_counters, one interval of ' + format(totals.events, ',') + ' events':44}"
            f" {count_s:8.1f} {scan_interval:8.1f} {count_s / scan_interval:8.2f}  "
            f"{'meets' if count_s < 60 else 'MISSES'} < 60 s"
        )
        print(
            f"{'trending_resync, ' + str(args.days) + ' days of the large dataset':44}"
            f" {resync_s:8.1f} {scan_window:8.1f} {resync_s / scan_window:8.2f}  "
            f"{'meets' if resync_s <= 3 * scan_window else 'MISSES'} <= 3x floor"
        )
        print(
            f"  medians of {ROUNDS} rounds; resync "
            + ", ".join(f"{s:.1f}" for s in resyncs)
            + " s; floor "
            + ", ".join(f"{s:.1f}" for s in scans)
            + " s"
        )
        print(
            f"  the day before, resynced first in the same JVM: {cold_s:.1f} s "
            f"(about {cold_s / scan_window:.2f}x the floor)"
        )
        print(
            f"  with --check full (every interval counted again and compared): {full_s:.1f} s "
            f"({full_s / scan_window:.2f}x the floor)"
        )
        print(
            f"  resync checked {report.intervals_checked} counted intervals by checksum"
            f" (counted again: {report.intervals_rechecked}, corrected:"
            f" {report.intervals_corrected}), ranked {report.songs_ranked} songs"
        )
