"""Nightly trending resync for one day D: plays_7d from the lake, the day's ranked snapshot,
and the 15-minute counters checked against the lake (drift corrected).

Reads:  once, the lake's events of event days [D - window, D] (today's window and
        yesterday's) and those appended in the counted intervals that started in those days
        or counted any of their events;
        analytics.counter_runs and
        analytics.song_interval_stats of those intervals; catalog.songs.
Writes, in one PostgreSQL transaction:
        analytics.trending_history (D's snapshot, replaced), catalog.songs.plays_7d (when D
        is the newest snapshot), drifted intervals' counters (re-counted from the lake, as
        play_counters would), analytics.song_daily_stats and plays_cumulative re-derived for
        the window's days, and D's row in analytics.resync_runs.

Everything is computed from the lake and the ledger, never from the time of the run, so a
re-run or a backfill of D in any order gives identical tables.

    spark-submit spark_jobs/trending_resync.py --day 2026-11-20
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys import db
from recsys.settings import Settings, load_settings
from spark_jobs import counters_store as store
from spark_jobs import lake
from spark_jobs.play_counters import daily_listener_pairs, is_play, song_interval_stats
from spark_jobs.session import spark_session

# A day's row in analytics.trending_history, after its snapshot_date.
SNAPSHOT_SCHEMA = pa.schema(
    [
        ("rank", pa.int64()),
        ("song_id", pa.string()),
        ("artist_id", pa.string()),
        ("plays_7d", pa.int64()),
        ("listeners_7d", pa.int64()),
        ("previous_rank", pa.int64()),
        ("rank_change", pa.int64()),
    ]
)


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


def resync_rows(events: DataFrame, first: date, last: date, intervals: list[tuple]):
    """The lake rows a resync reads, read once: those of event days [first, last] and
    those appended during the counted ``intervals`` ([start, end) pairs, not overlapping),
    each tagged with the interval that counted it (``interval_start``, null for none).

    Partitioned by song, so every aggregate over them (per song, or per interval, day and
    song) runs without another shuffle; duplicates of an event share its song.
    """
    in_days = F.col("date").between(first, last)
    if not intervals:
        rows = events.where(in_days).withColumn("interval_start", F.lit(None).cast("timestamp"))
    else:
        ts = F.col("kafka_timestamp")
        low, high = min(s for s, _ in intervals), max(e for _, e in intervals)
        buckets = events.sparkSession.createDataFrame(
            interval_buckets(intervals),
            "interval_start timestamp, interval_end timestamp, interval_bucket long",
        )
        # two scans, not one with an OR, so the event days' partitions are pruned; the
        # other days' files are skipped by their kafka_timestamp statistics
        appended = ~in_days & (ts >= low) & (ts < high)
        rows = (
            events.where(in_days)
            .unionByName(events.where(appended))
            .join(
                F.broadcast(buckets),
                (F.floor(ts.cast("double") / BUCKET_SECONDS) == F.col("interval_bucket"))
                & (ts >= F.col("interval_start"))
                & (ts < F.col("interval_end")),
                "left",
            )
        )
    return rows.select(
        "event_id",
        "user_id",
        "track_id",
        "action",
        "duration",
        "playback_id",
        "date",
        "interval_start",
    ).repartition("track_id")


def play_events(events: DataFrame, first: date, last: date, play_min_seconds: int) -> DataFrame:
    """The plays of event days [first, last], each event_id once: (song_id, date, user_id).

    An event's copies share its song, so deduplicating per (song, event_id) is deduplicating
    per event_id, without a shuffle when ``events`` are partitioned by song.
    """
    return (
        events.where(F.col("date").between(first, last))
        .dropDuplicates(["track_id", "event_id"])
        .where(is_play(play_min_seconds))
        .select(F.col("track_id").alias("song_id"), "date", "user_id")
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
        [dict(zip(SNAPSHOT_SCHEMA.names, row, strict=True)) for row in rows], SNAPSHOT_SCHEMA
    )


def counted_events(rows: DataFrame) -> DataFrame:
    """The ``resync_rows`` a counted interval holds, each event_id once per interval (as
    play_counters counts them)."""
    return rows.where(F.col("interval_start").isNotNull()).dropDuplicates(
        ["interval_start", "track_id", "event_id"]
    )


@dataclass(frozen=True)
class ResyncReport:
    day: date
    songs_ranked: int
    plays_7d_total: int
    intervals_checked: int
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


def resync(spark, settings: Settings, day: date) -> ResyncReport:
    days = settings.trending_window_days
    first = day - timedelta(days=days - 1)
    catalogue = dict(_read_songs(settings))
    size, play_min = settings.trending_snapshot_size, settings.play_min_seconds
    intervals = _read_intervals(settings, first, day)
    # one read of the lake serves today's window, yesterday's and the drift check
    before = first - timedelta(days=1)
    rows = resync_rows(lake.read_events(spark, settings.lake_uri), before, day, intervals).cache()

    stats = song_window_stats(play_events(rows, before, day, play_min), day, days).toArrow()
    ranked = snapshot(stats, catalogue, size)
    plays_7d = stats.filter(pc.greater(stats["plays_7d"], 0))

    tagged = lake_stats = None
    if intervals:
        tagged = counted_events(rows)
        lake_stats = song_interval_stats(tagged, play_min, by=("interval_start",)).cache()

    with db.connect(settings) as conn, conn.transaction():
        store.begin(conn)
        suspects = _suspect_intervals(conn, lake_stats, [start for start, _ in intervals])
        suspect_stats = _collect_intervals(lake_stats, suspects)
        drift = _drift(conn, suspect_stats, suspects)
        _recount(conn, drift.intervals, dict(intervals), suspect_stats, tagged, play_min)
        conn.execute(
            "insert into touched select event_date, song_id from analytics.song_daily_stats"
            " where event_date between %s and %s"
            " union select event_date, song_id from analytics.song_interval_stats"
            " where event_date between %s and %s",
            (first, day, first, day),
        )
        daily_fixed, songs_fixed = store.rederive(conn)
        _write_snapshot(conn, day, ranked, plays_7d)
        report = ResyncReport(
            day,
            ranked.num_rows,
            int(pc.sum(plays_7d["plays_7d"]).as_py() or 0),
            len(intervals),
            len(drift.intervals),
            drift.events,
            drift.plays,
            daily_fixed,
            songs_fixed,
        )
        _record(conn, report, first)
    for cached in (rows, lake_stats):
        if cached is not None:
            cached.unpersist()
    return report


def _row_fingerprint():
    """A 60-bit number per ledger row, computed identically here and in PostgreSQL."""
    text = F.concat_ws(
        "|",
        F.col("event_date").cast("string"),
        "song_id",
        *[F.col(c).cast("string") for c in store.STAT_COLUMNS],
    )
    return F.conv(F.substring(F.md5(text), 1, 15), 16, 10).cast("decimal(38,0)")


PG_FINGERPRINTS = """
    select s.interval_start, count(*) as rows,
           sum(('x' || substr(md5(concat_ws('|', s.event_date::text, s.song_id,
               s.events::text, s.plays::text, s.completes::text, s.skips::text,
               s.listeners::text, s.seconds_heard::text, s.playbacks::text)),
               1, 15))::bit(60)::bigint::numeric)
    from analytics.song_interval_stats as s
    where s.interval_start = any(%(starts)s)
    group by s.interval_start
"""


def _suspect_intervals(conn, lake_stats, starts: list) -> list:
    """Intervals whose ledger may differ from the lake: row fingerprints or totals disagree.

    Comparing sums of per-row fingerprints first keeps the row-by-row diff (and its copy of
    lake rows into PostgreSQL) to the intervals that need it.
    """
    if not starts:
        return []
    lake = {
        r["interval_start"].replace(tzinfo=UTC): (
            r["rows"],
            int(r["fingerprint"]),
            r["events"],
            r["plays"],
            r["completes"],
            r["skips"],
            r["seconds_heard"],
        )
        for r in lake_stats.groupBy("interval_start")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(_row_fingerprint()).alias("fingerprint"),
            *[
                F.sum(c).alias(c)
                for c in ("events", "plays", "completes", "skips", "seconds_heard")
            ],
        )
        .collect()
    }
    rows = dict(
        (r[0], (r[1], int(r[2]))) for r in conn.execute(PG_FINGERPRINTS, {"starts": starts})
    )
    totals = {
        r[0]: tuple(r[1:])
        for r in conn.execute(
            "select interval_start, events, plays, completes, skips, seconds_heard"
            " from analytics.counter_runs where interval_start = any(%s)",
            (starts,),
        )
    }
    suspects = []
    for start in starts:
        lake_row = lake.get(start, (0, 0, 0, 0, 0, 0, 0))
        if rows.get(start, (0, 0)) != lake_row[:2] or totals.get(start) != lake_row[2:]:
            suspects.append(start)
    return suspects


def _collect_intervals(lake_stats, starts: list) -> pa.Table:
    """The lake's per-(interval, day, song) stats of the given intervals, as Arrow."""
    empty = pa.table(
        {c: pa.array([], pa.string()) for c in ("interval_start", *store.STATS_SCHEMA)}
    )
    if not starts:
        return empty
    return lake_stats.where(F.col("interval_start").isin(starts)).toArrow()


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
    store.copy_rows(
        conn,
        "lake_interval_stats",
        "interval_start, " + ", ".join(store.STATS_SCHEMA),
        store.csv_bytes(lake_stats),
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


def _recount(conn, drifted: list, ends: dict, lake_stats: pa.Table, tagged, play_min) -> None:
    """Re-count each drifted interval from the lake through the play counters' own writer."""
    for start in drifted:
        stats = lake_stats.filter(
            pc.equal(lake_stats["interval_start"], pa.scalar(start, pa.timestamp("us", "UTC")))
        )
        pairs = daily_listener_pairs(
            tagged.where(F.col("interval_start") == F.lit(start)), play_min
        ).toArrow()
        store.replace_interval(conn, start, ends[start], stats, pairs)


def _write_snapshot(conn, day: date, ranked: pa.Table, plays_7d: pa.Table) -> None:
    newest = conn.execute(
        "select coalesce(max(snapshot_date) <= %s, true) from analytics.trending_history",
        (day,),
    ).fetchone()[0]
    conn.execute("delete from analytics.trending_history where snapshot_date = %s", (day,))
    day_column = pa.array([day] * ranked.num_rows, pa.date32())
    store.copy_rows(
        conn,
        "analytics.trending_history",
        "snapshot_date, " + ", ".join(SNAPSHOT_SCHEMA.names),
        store.csv_bytes(ranked.add_column(0, "snapshot_date", day_column)),
    )
    if newest:  # a backfill of an older day must not overwrite the current plays_7d
        conn.execute(
            "create temp table new_plays_7d (song_id text, plays_7d bigint) on commit drop"
        )
        store.copy_rows(
            conn,
            "new_plays_7d",
            "song_id, plays_7d",
            store.csv_bytes(plays_7d.select(["song_id", "plays_7d"])),
        )
        conn.execute(
            """
            update catalog.songs as s
            set plays_7d = coalesce(n.plays_7d, 0), updated_at = now()
            from catalog.songs as c
            left join new_plays_7d as n on n.song_id = c.id
            where s.id = c.id and s.plays_7d <> coalesce(n.plays_7d, 0)
            """
        )


def _record(conn, report: ResyncReport, first: date) -> None:
    conn.execute(
        """
        insert into analytics.resync_runs (snapshot_date, window_start, songs_ranked,
            plays_7d_total, intervals_checked, intervals_corrected, events_corrected,
            plays_corrected, daily_rows_corrected, songs_corrected)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (snapshot_date) do update set
            window_start = excluded.window_start, songs_ranked = excluded.songs_ranked,
            plays_7d_total = excluded.plays_7d_total,
            intervals_checked = excluded.intervals_checked,
            intervals_corrected = excluded.intervals_corrected,
            events_corrected = excluded.events_corrected,
            plays_corrected = excluded.plays_corrected,
            daily_rows_corrected = excluded.daily_rows_corrected,
            songs_corrected = excluded.songs_corrected, computed_at = now()
        """,
        (
            report.day,
            first,
            report.songs_ranked,
            report.plays_7d_total,
            report.intervals_checked,
            report.intervals_corrected,
            report.events_corrected,
            report.plays_corrected,
            report.daily_rows_corrected,
            report.songs_corrected,
        ),
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        required=True,
        help="the snapshot's day, YYYY-MM-DD (the last event day counted)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session("trending_resync", settings)
    print(resync(spark, settings, args.day))


if __name__ == "__main__":
    main()
