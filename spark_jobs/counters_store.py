"""The play counters' tables in PostgreSQL, written by the jobs' drivers.

An interval's rows (the ledger row in analytics.counter_runs, its
analytics.song_interval_stats, the listeners it first saw in
analytics.song_daily_listeners) are replaced as a whole; analytics.song_daily_stats and
catalog.songs.plays_cumulative are then re-derived from the ledger for every (day, song)
touched. Both play_counters (one interval) and trending_resync (drifted intervals) write
through here, inside one transaction each.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

STAT_COLUMNS = ("events", "plays", "completes", "skips", "listeners", "seconds_heard", "playbacks")
STATS_SCHEMA = ("event_date", "song_id", *STAT_COLUMNS)
PAIRS_SCHEMA = ("event_date", "song_id", "user_id")


@dataclass(frozen=True)
class IntervalTotals:
    events: int
    plays: int
    completes: int
    skips: int
    seconds_heard: int


def totals(stats: pa.Table) -> IntervalTotals:
    sums = {c: int(pc.sum(stats[c]).as_py() or 0) for c in STAT_COLUMNS}
    return IntervalTotals(
        sums["events"], sums["plays"], sums["completes"], sums["skips"], sums["seconds_heard"]
    )


def csv_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def copy_rows(conn, table: str, columns: str, data: bytes) -> None:
    with conn.cursor().copy(f"copy {table} ({columns}) from stdin (format csv)") as copy:
        copy.write(data)


def begin(conn) -> None:
    """Start a counters transaction: serialise with other counter writers, and collect the
    (day, song) keys to re-derive in a temp table ``touched``."""
    # Two writers re-deriving the same day must not interleave.
    conn.execute("select pg_advisory_xact_lock(hashtext('analytics.counter_runs'))")
    conn.execute("create temp table touched (event_date date, song_id text) on commit drop")


def replace_interval(
    conn, start: datetime, end: datetime, stats: pa.Table, pairs: pa.Table
) -> IntervalTotals:
    """Replace everything the interval [start, end) contributed with ``stats`` (columns
    STATS_SCHEMA) and ``pairs`` (PAIRS_SCHEMA). Call between ``begin`` and ``rederive``."""
    interval_totals = totals(stats)
    conn.execute(
        "insert into touched select event_date, song_id from analytics.song_interval_stats"
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
            interval_totals.events,
            interval_totals.plays,
            interval_totals.completes,
            interval_totals.skips,
            interval_totals.seconds_heard,
        ),
    )
    interval_column = pa.array([start] * stats.num_rows, pa.timestamp("us", tz="UTC"))
    copy_rows(
        conn,
        "analytics.song_interval_stats",
        "interval_start, " + ", ".join(STATS_SCHEMA),
        csv_bytes(
            stats.select(list(STATS_SCHEMA)).add_column(0, "interval_start", interval_column)
        ),
    )
    conn.execute(
        "create temp table if not exists new_pairs"
        " (event_date date, song_id text, user_id text) on commit drop"
    )
    conn.execute("truncate new_pairs")
    copy_rows(
        conn, "new_pairs", ", ".join(PAIRS_SCHEMA), csv_bytes(pairs.select(list(PAIRS_SCHEMA)))
    )
    conn.execute(
        "insert into analytics.song_daily_listeners"
        " select event_date, song_id, user_id, %s from new_pairs on conflict do nothing",
        (start,),
    )
    conn.execute(
        "insert into touched select event_date, song_id from analytics.song_interval_stats"
        " where interval_start = %s",
        (start,),
    )
    return interval_totals


def rederive(conn) -> tuple[int, int]:
    """song_daily_stats and plays_cumulative for every touched (day, song), from the ledger.

    Returns how many daily rows and songs actually changed (zero when nothing drifted).
    """
    conn.execute("analyze touched")  # temp tables are never analysed automatically
    daily = conn.execute(
        """
        with keys as (select distinct event_date, song_id from touched),
        sums as (
            select k.event_date, k.song_id,
                   coalesce(sum(s.events), 0) as events, coalesce(sum(s.plays), 0) as plays,
                   coalesce(sum(s.completes), 0) as completes,
                   coalesce(sum(s.skips), 0) as skips,
                   coalesce(sum(s.seconds_heard), 0) as seconds_heard,
                   coalesce(sum(s.playbacks), 0) as playbacks
            from keys as k
            left join analytics.song_interval_stats as s
                on s.event_date = k.event_date and s.song_id = k.song_id
            group by k.event_date, k.song_id
        ),
        derived as (
            select sums.*,
                   (select count(*) from analytics.song_daily_listeners as l
                    where l.event_date = sums.event_date and l.song_id = sums.song_id)
                       as listeners
            from sums
        )
        insert into analytics.song_daily_stats as d
            (event_date, song_id, events, plays, completes, skips, listeners, seconds_heard,
             playbacks, updated_at)
        select event_date, song_id, events, plays, completes, skips, listeners, seconds_heard,
               playbacks, now()
        from derived
        on conflict (event_date, song_id) do update set
            events = excluded.events, plays = excluded.plays, completes = excluded.completes,
            skips = excluded.skips, listeners = excluded.listeners,
            seconds_heard = excluded.seconds_heard, playbacks = excluded.playbacks,
            updated_at = excluded.updated_at
        where (d.events, d.plays, d.completes, d.skips, d.listeners, d.seconds_heard,
               d.playbacks)
            is distinct from (excluded.events, excluded.plays, excluded.completes,
                              excluded.skips, excluded.listeners, excluded.seconds_heard,
                              excluded.playbacks)
        """
    ).rowcount
    songs = conn.execute(
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
    ).rowcount
    return daily, songs
