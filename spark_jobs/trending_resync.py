"""Nightly trending resync for one day D: plays_7d from the lake, the day's ranked snapshot,
and the 15-minute counters checked against the lake (drift corrected).

Reads:  the lake's events of event days [D - window, D] (today's window and yesterday's),
        and those appended in the counted intervals that started in those days or counted
        any of their events, in one Spark query;
        analytics.counter_runs and analytics.song_interval_stats of those intervals;
        catalog.songs.
Checks: each counted interval by its checksums: the lake rows appended in it, and its
        ledger rows, against those play_counters recorded. An interval whose checksums
        differ (a late file landed in it, a ledger row was changed, or it was counted before
        checksums were kept), or every interval with ``--check full``, is counted again
        from the lake and compared row by row; one that differs has drifted.
Writes, in one PostgreSQL transaction:
        analytics.trending_history (D's snapshot, replaced), catalog.songs.plays_7d (when D
        is the newest snapshot), drifted intervals' counters (re-counted from the lake, as
        play_counters would), analytics.song_daily_stats re-derived for the window's days
        (rows that differ), plays_cumulative of the songs whose daily stats changed (of
        every song with ``--check full``), and D's row in analytics.resync_runs.

Everything is computed from the lake and the ledger, never from the time of the run, so a
re-run or a backfill of D in any order gives identical tables.

    spark-submit spark_jobs/trending_resync.py --day 2026-11-20 [--check full]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

import spark_jobs.common.warehouse_store as store
from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import read_events
from spark_jobs.common.play_stats import (
    daily_listener_pairs,
    is_play,
    lake_checksums,
    song_interval_stats,
)
from spark_jobs.common.session import spark_session

# The width of the buckets the interval join matches on: one counter interval.
BUCKET_SECONDS = 900


def interval_buckets(intervals: list[tuple]) -> list[tuple]:
    """(interval_start, interval_end, bucket) for each BUCKET_SECONDS bucket a counted
    interval overlaps, so events find their interval by an equi-join on the bucket."""
    return [
        (start, end, bucket)
        for start, end in intervals
        for bucket in range(
            math.floor(start.timestamp() / BUCKET_SECONDS),
            math.floor(end.timestamp() / BUCKET_SECONDS) + 1,
        )
    ]


def interval_rows(events: DataFrame, intervals: list[tuple]) -> DataFrame:
    """The lake rows appended during the counted ``intervals`` ([start, end) pairs, not
    overlapping), copies included, each tagged with its ``interval_start``. One scan: the
    files of other times are skipped by their kafka_timestamp statistics."""
    ts = F.col("kafka_timestamp")
    low, high = min(s for s, _ in intervals), max(e for _, e in intervals)
    buckets = events.sparkSession.createDataFrame(
        interval_buckets(intervals),
        "interval_start timestamp, interval_end timestamp, interval_bucket long",
    )
    return (
        events.where((ts >= low) & (ts < high))
        .join(
            F.broadcast(buckets),
            (F.floor(ts.cast("double") / BUCKET_SECONDS) == F.col("interval_bucket"))
            & (ts >= F.col("interval_start"))
            & (ts < F.col("interval_end")),
        )
        .drop("interval_end", "interval_bucket")
    )


def play_events(events: DataFrame, first: date, last: date, play_min_seconds: int) -> DataFrame:
    """The plays of event days [first, last], each event_id once: (song_id, date, user_id),
    partitioned by song.

    An event's copies share its song, listener, day and play, so the distinct (song,
    event_id, user, day) of the plays are the distinct plays: one hash aggregation, with no
    sort, and the per-song aggregates that follow need no further shuffle.
    """
    return (
        events.where(F.col("date").between(first, last) & is_play(play_min_seconds))
        .select(F.col("track_id").alias("song_id"), "event_id", "user_id", "date")
        .repartition("song_id")
        .distinct()
        .drop("event_id")
    )


def song_window_stats(plays: DataFrame, day: date, days: int) -> DataFrame:
    """Per song played in either window: plays and distinct listeners over the ``days``
    event days ending with ``day`` (plays_7d, listeners_7d) and over those ending the day
    before (previous_plays, previous_listeners), in one pass over ``plays``."""
    today = F.col("date") >= day - timedelta(days=days - 1)
    yesterday = F.col("date") <= day - timedelta(days=1)
    per_listener = plays.groupBy("song_id", "user_id").agg(
        F.sum(today.cast("long")).alias("today"), F.sum(yesterday.cast("long")).alias("yesterday")
    )
    return per_listener.groupBy("song_id").agg(
        F.sum("today").alias("plays_7d"),
        F.count(F.when(F.col("today") > 0, True)).alias("listeners_7d"),
        F.sum("yesterday").alias("previous_plays"),
        F.count(F.when(F.col("yesterday") > 0, True)).alias("previous_listeners"),
    )


def rank_songs(songs: dict, plays: list, listeners: list, catalogue: dict, size: int) -> dict:
    """{song: rank} for the top ``size`` catalogue songs with plays, by plays, then
    listeners, then id (no ties)."""
    order = sorted(
        (-p, -n, song)
        for song, p, n in zip(songs, plays, listeners, strict=True)
        if p > 0 and song in catalogue
    )
    return {song: rank for rank, (_, _, song) in enumerate(order[:size], 1)}


def snapshot(stats: pa.Table, catalogue: dict, size: int) -> pa.Table:
    """Today's ranking (``song_window_stats`` as Arrow) with yesterday's rank and the
    places climbed (positive = up); ``catalogue`` maps song to artist."""
    songs = stats["song_id"].to_pylist()
    plays, listeners = stats["plays_7d"].to_pylist(), stats["listeners_7d"].to_pylist()
    today = rank_songs(songs, plays, listeners, catalogue, size)
    yesterday = rank_songs(
        songs,
        stats["previous_plays"].to_pylist(),
        stats["previous_listeners"].to_pylist(),
        catalogue,
        size,
    )
    row_of = {song: i for i, song in enumerate(songs)}
    rows = []
    for song in sorted(today, key=today.get):
        rank, before, i = today[song], yesterday.get(song), row_of[song]
        change = None if before is None else before - rank
        rows.append((rank, song, catalogue[song], plays[i], listeners[i], before, change))
    return pa.Table.from_pylist(
        [dict(zip(store.SNAPSHOT_SCHEMA.names, row, strict=True)) for row in rows],
        store.SNAPSHOT_SCHEMA,
    )


def lake_summary(
    events: DataFrame, day: date, days: int, play_min: int, counted_rows: DataFrame | None
) -> tuple[pa.Table, dict]:
    """``song_window_stats`` of the days [day - days, day], as Arrow, and the lake checksum
    of each counted interval in ``counted_rows`` (``interval_rows``, None for no interval)
    as {interval_start: LakeChecksum}, from one Spark query, so its two scans and
    aggregations share the cores."""
    window = song_window_stats(
        play_events(events, day - timedelta(days=days), day, play_min), day, days
    ).withColumn("part", F.lit("window"))
    if counted_rows is not None:
        sums = lake_checksums(counted_rows, by=("interval_start",))
        window = window.unionByName(
            sums.withColumn("part", F.lit("interval")), allowMissingColumns=True
        )
    table = window.toArrow()
    in_window = pc.equal(table["part"], "window")
    stats = table.filter(in_window).select(
        ["song_id", "plays_7d", "listeners_7d", "previous_plays", "previous_listeners"]
    )
    checksums = {
        r["interval_start"]: store.LakeChecksum(r["lake_rows"], r["lake_checksum"])
        for r in table.filter(pc.invert(in_window)).to_pylist()
    }
    return stats, checksums


def counted_events(rows: DataFrame) -> DataFrame:
    """``interval_rows`` each event_id once per interval (as play_counters counts them)."""
    return rows.dropDuplicates(["interval_start", "track_id", "event_id"])


@dataclass(frozen=True)
class ResyncReport:
    day: date
    songs_ranked: int
    plays_7d_total: int
    intervals_checked: int
    intervals_rechecked: int
    intervals_corrected: int
    events_corrected: int
    plays_corrected: int
    daily_rows_corrected: int
    songs_corrected: int


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _read_intervals(settings: Settings, first: date, day: date) -> list[tuple]:
    """Counted intervals to check: those appended during the window's days, and those
    that counted any event of the window's days, whenever it arrived."""
    with db.connect(settings) as conn:
        return conn.execute(
            "select interval_start, interval_end from analytics.counter_runs"
            " where interval_start >= %(from)s and interval_start < %(to)s"
            " or interval_start in (select interval_start from analytics.song_interval_stats"
            "                       where event_date between %(first)s and %(day)s)"
            " order by 1",
            {"from": _utc(first), "to": _utc(day + timedelta(days=1)), "first": first, "day": day},
        ).fetchall()


def _read_songs(settings: Settings) -> list[tuple]:
    with db.connect(settings) as conn:
        return conn.execute("select id, artist_id from catalog.songs").fetchall()


def resync(spark, settings: Settings, day: date, full_check: bool = False) -> ResyncReport:
    """Resync day ``day``; ``full_check`` counts every interval again and compares it with
    its ledger, instead of only those whose checksums changed, and derives every song's
    plays_cumulative again, instead of only those whose daily stats changed."""
    days = settings.trending_window_days
    first = day - timedelta(days=days - 1)
    catalogue = dict(_read_songs(settings))
    size, play_min = settings.trending_snapshot_size, settings.play_min_seconds
    intervals = _read_intervals(settings, first, day)
    events = read_events(spark, settings.lake_uri)
    # the counted intervals' rows, read with the same file listing for both uses below
    counted_rows = interval_rows(events, intervals) if intervals else None
    stats, lake_sums = lake_summary(events, day, days, play_min, counted_rows)
    ranked = snapshot(stats, catalogue, size)
    plays_7d = stats.filter(pc.greater(stats["plays_7d"], 0))
    starts = [start for start, _ in intervals]

    with db.connect(settings) as conn, conn.transaction():
        store.begin(conn)
        suspects = starts if full_check else _suspect_intervals(conn, lake_sums, starts)
        counted = None
        if suspects:  # count them again from the lake
            counted = counted_events(counted_rows.where(F.col("interval_start").isin(suspects)))
        suspect_stats = _interval_stats(counted, play_min)
        drift = _drift(conn, suspect_stats, suspects)
        ends = dict(intervals)
        for start in suspects:
            lake_rows = lake_sums.get(start, store.NO_LAKE_ROWS)
            if start in drift.intervals:
                _recount(conn, (start, ends[start]), suspect_stats, counted, play_min, lake_rows)
            else:  # counted right: keep its checksums as they are now
                store.record_checksums(conn, start, lake_rows)
        daily_fixed, songs_fixed = store.rederive(conn, (first, day), every_song=full_check)
        store.write_snapshot(conn, day, ranked, plays_7d)
        report = ResyncReport(
            day=day,
            songs_ranked=ranked.num_rows,
            plays_7d_total=int(pc.sum(plays_7d["plays_7d"]).as_py() or 0),
            intervals_checked=len(intervals),
            intervals_rechecked=len(suspects),
            intervals_corrected=len(drift.intervals),
            events_corrected=drift.events,
            plays_corrected=drift.plays,
            daily_rows_corrected=daily_fixed,
            songs_corrected=songs_fixed,
        )
        _record(conn, report, first)
    return report


def _suspect_intervals(conn, lake_sums: dict, starts: list) -> list:
    """Counted intervals that may differ from the lake: the lake rows appended in them, or
    their ledger rows, are not those play_counters recorded, or their ledger row's totals
    are not its rows' sums."""
    if not starts:
        return []
    recorded = {
        row[0]: row[1:]
        for row in conn.execute(
            f"""
            select r.interval_start, r.lake_rows, r.lake_checksum,
                   r.ledger_checksum is not null
                   and (r.ledger_checksum, r.events, r.plays, r.completes, r.skips,
                        r.seconds_heard)
                       = (coalesce(l.checksum, 0), coalesce(l.events, 0),
                          coalesce(l.plays, 0), coalesce(l.completes, 0),
                          coalesce(l.skips, 0), coalesce(l.seconds_heard, 0))
            from analytics.counter_runs as r
            left join ({store.LEDGER_CHECKSUMS}) as l using (interval_start)
            where r.interval_start = any(%(starts)s)
            """,
            {"starts": starts},
        )
    }
    suspects = []
    for start in starts:
        rows, checksum, ledger_intact = recorded.get(start, (None, None, False))
        lake_rows = lake_sums.get(start, store.NO_LAKE_ROWS)
        if (rows, checksum) != (lake_rows.rows, lake_rows.checksum) or not ledger_intact:
            suspects.append(start)
    return suspects


def _interval_stats(counted, play_min: int) -> pa.Table:
    """The lake's per-(interval, day, song) stats of the ``counted_events``, as Arrow."""
    if counted is None:
        return pa.table(
            {c: pa.array([], pa.string()) for c in ("interval_start", *store.STATS_SCHEMA)}
        )
    return song_interval_stats(counted, play_min, by=("interval_start",)).toArrow()


@dataclass(frozen=True)
class Drift:
    intervals: list  # starts of the counted intervals whose counters differ from the lake
    events: int  # events counted wrongly (absolute differences, summed)
    plays: int


def _drift(conn, lake_stats: pa.Table, starts: list) -> Drift:
    """Compare the ledger of the counted intervals with the lake, row by row and in total."""
    if not starts:
        return Drift([], 0, 0)
    conn.execute(
        "create temp table lake_interval_stats (interval_start timestamptz, event_date date,"
        " song_id text, events bigint, plays bigint, completes bigint, skips bigint,"
        " listeners bigint, seconds_heard bigint, playbacks bigint) on commit drop"
    )
    db.copy_rows(
        conn,
        "lake_interval_stats",
        "interval_start, " + ", ".join(store.STATS_SCHEMA),
        db.csv_bytes(lake_stats),
    )
    rows = conn.execute(
        """
        with ledger as (
            select * from analytics.song_interval_stats where interval_start = any(%(starts)s)
        ),
        row_drift as (
            select coalesce(l.interval_start, g.interval_start) as interval_start,
                   abs(coalesce(l.events, 0) - coalesce(g.events, 0)) as events,
                   abs(coalesce(l.plays, 0) - coalesce(g.plays, 0)) as plays
            from lake_interval_stats as l
            full join ledger as g using (interval_start, event_date, song_id)
            where (l.events, l.plays, l.completes, l.skips, l.listeners, l.seconds_heard,
                   l.playbacks)
                is distinct from
                  (g.events, g.plays, g.completes, g.skips, g.listeners, g.seconds_heard,
                   g.playbacks)
        ),
        lake_totals as (
            select interval_start, sum(events) as events, sum(plays) as plays,
                   sum(completes) as completes, sum(skips) as skips,
                   sum(seconds_heard) as seconds_heard
            from lake_interval_stats group by interval_start
        ),
        total_drift as (
            select r.interval_start, abs(r.events - coalesce(t.events, 0)) as events,
                   abs(r.plays - coalesce(t.plays, 0)) as plays
            from analytics.counter_runs as r
            left join lake_totals as t using (interval_start)
            where r.interval_start = any(%(starts)s)
              and (r.events, r.plays, r.completes, r.skips, r.seconds_heard)
                  is distinct from (coalesce(t.events, 0), coalesce(t.plays, 0),
                                    coalesce(t.completes, 0), coalesce(t.skips, 0),
                                    coalesce(t.seconds_heard, 0))
        )
        select interval_start, sum(events), sum(plays)
        from (
            select interval_start, events, plays from row_drift
            union all
            -- totals off while every row agrees: the ledger row itself was changed
            select interval_start, events, plays from total_drift
            where interval_start not in (select interval_start from row_drift)
        ) as drift
        group by interval_start
        order by 1
        """,
        {"starts": starts},
    ).fetchall()
    return Drift([r[0] for r in rows], sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows))


def _recount(conn, interval: tuple, lake_stats: pa.Table, counted, play_min, lake_rows) -> None:
    """Re-count the drifted interval (start, end) from the lake through the play counters'
    own writer."""
    start, end = interval
    stats = lake_stats.filter(
        pc.equal(lake_stats["interval_start"], pa.scalar(start, pa.timestamp("us", "UTC")))
    )
    pairs = daily_listener_pairs(
        counted.where(F.col("interval_start") == F.lit(start)), play_min
    ).toArrow()
    store.replace_interval(conn, start, end, stats, pairs, lake_rows)


def _record(conn, report: ResyncReport, first: date) -> None:
    columns = [f.name for f in fields(ResyncReport)][1:]
    conn.execute(
        f"""
        insert into analytics.resync_runs (snapshot_date, window_start, {", ".join(columns)})
        values (%(day)s, %(first)s, {", ".join(f"%({c})s" for c in columns)})
        on conflict (snapshot_date) do update set window_start = excluded.window_start,
            {", ".join(f"{c} = excluded.{c}" for c in columns)}, computed_at = now()
        """,
        {**asdict(report), "first": first},
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        required=True,
        help="the snapshot's day, YYYY-MM-DD (the last event day counted)",
    )
    parser.add_argument(
        "--check",
        choices=("changed", "full"),
        default="changed",
        help="which counted intervals to count again and compare with their ledger: those"
        " whose checksums changed (the default), or every one of the window (full, which"
        " also derives every song's plays_cumulative again)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("trending_resync", settings)
    print(resync(spark, settings, args.day, full_check=args.check == "full"))


if __name__ == "__main__":
    main()
