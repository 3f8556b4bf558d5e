"""The warehouse tables the counting jobs write, from their drivers (Arrow tables in,
PostgreSQL out; no Spark here).

The play counters: an interval's rows (the ledger row in analytics.counter_runs, its
analytics.song_interval_stats, the listeners it first saw in
analytics.song_daily_listeners) are replaced as a whole; analytics.song_daily_stats and
catalog.songs.plays_cumulative are then re-derived from the ledger for every (day, song)
touched. Both play_counters (one interval) and trending_resync (drifted intervals) write
through here, inside one transaction each.

Each interval's ledger row also keeps two checksums: the lake rows it was counted from
(``LakeChecksum``, computed by the Spark job) and the ledger rows written for it
(``LEDGER_CHECKSUMS``, computed here in PostgreSQL), so trending_resync can tell which
intervals may have drifted without counting them again.

The trending snapshot: a day's ranking replaces that day's rows of
analytics.trending_history, and sets catalog.songs.plays_7d when the day is the newest
snapshot (``write_snapshot``, in trending_resync's transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from recsys.db import copy_rows, csv_bytes

STAT_COLUMNS = ("events", "plays", "completes", "skips", "listeners", "seconds_heard", "playbacks")
STATS_SCHEMA = ("event_date", "song_id", *STAT_COLUMNS)
PAIRS_SCHEMA = ("event_date", "song_id", "user_id")

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


@dataclass(frozen=True)
class IntervalTotals:
    events: int
    plays: int
    completes: int
    skips: int
    seconds_heard: int


@dataclass(frozen=True)
class LakeChecksum:
    """An interval's lake rows (copies included) and the sum of a hash of each."""

    rows: int
    checksum: Decimal


NO_LAKE_ROWS = LakeChecksum(0, Decimal(0))

# Per interval of %(starts)s: its ledger rows' checksum (the sum of a 64-bit hash of each
# row, so any changed, added or removed row changes it) and totals. Intervals without rows
# are absent. PostgreSQL's hash functions may change in a major upgrade: every interval is
# then counted again in full once, and its new checksum kept.
LEDGER_CHECKSUMS = """
    select s.interval_start,
           sum(hash_record_extended((s.event_date, s.song_id, s.events, s.plays,
               s.completes, s.skips, s.listeners, s.seconds_heard, s.playbacks), 0)::numeric)
               as checksum,
           sum(s.events) as events, sum(s.plays) as plays, sum(s.completes) as completes,
           sum(s.skips) as skips, sum(s.seconds_heard) as seconds_heard
    from analytics.song_interval_stats as s
    where s.interval_start = any(%(starts)s)
    group by s.interval_start
"""


def totals(stats: pa.Table) -> IntervalTotals:
    sums = {c: int(pc.sum(stats[c]).as_py() or 0) for c in STAT_COLUMNS}
    return IntervalTotals(
        sums["events"], sums["plays"], sums["completes"], sums["skips"], sums["seconds_heard"]
    )


def begin(conn) -> None:
    """Start a counters transaction: serialise with other counter writers, and collect the
    (day, song) keys to re-derive in a temp table ``touched``."""
    # Two writers re-deriving the same day must not interleave.
    conn.execute("select pg_advisory_xact_lock(hashtext('analytics.counter_runs'))")
    conn.execute("create temp table touched (event_date date, song_id text) on commit drop")


def replace_interval(
    conn,
    start: datetime,
    end: datetime,
    stats: pa.Table,
    pairs: pa.Table,
    lake: LakeChecksum,
) -> IntervalTotals:
    """Replace everything the interval [start, end) contributed with ``stats`` (columns
    STATS_SCHEMA) and ``pairs`` (PAIRS_SCHEMA), counted from the lake rows ``lake`` sums
    up. Call between ``begin`` and ``rederive``."""
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
    record_checksums(conn, start, lake)
    return interval_totals


def record_checksums(conn, start: datetime, lake: LakeChecksum) -> None:
    """Keep the interval's lake checksum and its ledger rows' checksum as they are now."""
    conn.execute(
        f"""
        update analytics.counter_runs as r
        set lake_rows = %(rows)s, lake_checksum = %(checksum)s,
            ledger_checksum = coalesce(
                (select l.checksum from ({LEDGER_CHECKSUMS}) as l), 0)
        where r.interval_start = %(start)s
        """,
        {"rows": lake.rows, "checksum": lake.checksum, "start": start, "starts": [start]},
    )


# song_daily_stats re-derived from the ledger for the (day, song) keys matching {keys} (a
# condition on event_date and song_id), writing only the rows that differ; their keys are
# added to ``touched``, so their songs' plays_cumulative is derived again too.
DERIVE_DAILY = """
    with sums as (
        select event_date, song_id, sum(events)::bigint as events,
               sum(plays)::bigint as plays, sum(completes)::bigint as completes,
               sum(skips)::bigint as skips, sum(seconds_heard)::bigint as seconds_heard,
               sum(playbacks)::bigint as playbacks
        from analytics.song_interval_stats
        where {keys}
        group by event_date, song_id
    ),
    listeners as (
        select event_date, song_id, count(*) as listeners
        from analytics.song_daily_listeners
        where {keys}
        group by event_date, song_id
    ),
    current as (select * from analytics.song_daily_stats where {keys}),
    derived as (
        select event_date, song_id, coalesce(s.events, 0) as events,
               coalesce(s.plays, 0) as plays, coalesce(s.completes, 0) as completes,
               coalesce(s.skips, 0) as skips, coalesce(n.listeners, 0) as listeners,
               coalesce(s.seconds_heard, 0) as seconds_heard,
               coalesce(s.playbacks, 0) as playbacks,
               (c.events, c.plays, c.completes, c.skips, c.listeners, c.seconds_heard,
                c.playbacks) as stored
        from sums as s
        full join current as c using (event_date, song_id)
        left join listeners as n using (event_date, song_id)
    ),
    written as (
        insert into analytics.song_daily_stats as d
            (event_date, song_id, events, plays, completes, skips, listeners, seconds_heard,
             playbacks, updated_at)
        select event_date, song_id, events, plays, completes, skips, listeners,
               seconds_heard, playbacks, now()
        from derived
        where stored is distinct from
            (events, plays, completes, skips, listeners, seconds_heard, playbacks)
        on conflict (event_date, song_id) do update set
            events = excluded.events, plays = excluded.plays,
            completes = excluded.completes, skips = excluded.skips,
            listeners = excluded.listeners, seconds_heard = excluded.seconds_heard,
            playbacks = excluded.playbacks, updated_at = excluded.updated_at
        returning event_date, song_id
    )
    insert into touched select event_date, song_id from written
"""
TOUCHED_KEYS = "(event_date, song_id) in (select event_date, song_id from touched)"
DAYS_KEYS = "event_date between %(first)s and %(last)s"


def rederive(
    conn, days: tuple[date, date] | None = None, every_song: bool = False
) -> tuple[int, int]:
    """song_daily_stats from the ledger for every touched (day, song) and, given ``days``
    (first, last), every (day, song) of those days; then plays_cumulative of the songs
    touched or whose daily rows changed (of every song with ``every_song``).

    Returns how many daily rows and songs actually changed (zero when nothing drifted).
    """
    conn.execute("analyze touched")  # temp tables are never analysed automatically
    conn.execute("set local work_mem = '64MB'")  # a night's keys aggregate in memory
    daily = conn.execute(DERIVE_DAILY.format(keys=TOUCHED_KEYS)).rowcount
    if days is not None:
        params = {"first": days[0], "last": days[1]}
        daily += conn.execute(DERIVE_DAILY.format(keys=DAYS_KEYS), params).rowcount
    songs = "select id from catalog.songs" if every_song else "select song_id from touched"
    songs_fixed = conn.execute(
        f"""
        update catalog.songs as songs
        set plays_cumulative = totals.plays, updated_at = now()
        from (
            select d.song_id, sum(d.plays) as plays
            from analytics.song_daily_stats as d
            where d.song_id in ({songs})
            group by d.song_id
        ) as totals
        where songs.id = totals.song_id and songs.plays_cumulative <> totals.plays
        """
    ).rowcount
    return daily, songs_fixed


def write_snapshot(conn, day: date, ranked: pa.Table, plays_7d: pa.Table) -> None:
    """Day ``day``'s ranking ``ranked`` (SNAPSHOT_SCHEMA) replaces its rows of
    analytics.trending_history; when ``day`` is the newest snapshot, ``plays_7d`` (song_id,
    plays_7d) becomes catalog.songs.plays_7d, every song absent from it set to 0. Run inside
    the caller's transaction."""
    newest = conn.execute(
        "select coalesce(max(snapshot_date) <= %s, true) from analytics.trending_history",
        (day,),
    ).fetchone()[0]
    conn.execute("delete from analytics.trending_history where snapshot_date = %s", (day,))
    day_column = pa.array([day] * ranked.num_rows, pa.date32())
    copy_rows(
        conn,
        "analytics.trending_history",
        "snapshot_date, " + ", ".join(SNAPSHOT_SCHEMA.names),
        csv_bytes(ranked.add_column(0, "snapshot_date", day_column)),
    )
    if newest:  # a backfill of an older day must not overwrite the current plays_7d
        conn.execute(
            "create temp table new_plays_7d (song_id text, plays_7d bigint) on commit drop"
        )
        copy_rows(
            conn,
            "new_plays_7d",
            "song_id, plays_7d",
            csv_bytes(plays_7d.select(["song_id", "plays_7d"])),
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
