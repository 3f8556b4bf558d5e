"""Reading the trending snapshot and its history (analytics.trending_history).

A song an admin took down is left out of every read (its row stays in the history, and
analysts still see it): the snapshot keeps its ranks, so a takedown leaves a gap in them, and
the song's history answers as for an unknown song.
"""

from __future__ import annotations

from psycopg.rows import dict_row

SNAPSHOT_SQL = """
    select t.rank, t.song_id, s.title, a.name as artist, s.genre, t.plays_7d, t.listeners_7d,
           t.previous_rank, t.rank_change
    from analytics.trending_history as t
    join catalog.songs as s on s.id = t.song_id
    join catalog.artists as a on a.id = t.artist_id
    where t.snapshot_date = %(day)s and s.taken_down_at is null
    order by t.rank
    limit %(limit)s offset %(offset)s
"""

HISTORY_SQL = """
    select snapshot_date, rank, plays_7d, listeners_7d, previous_rank, rank_change
    from analytics.trending_history
    where song_id = %(song_id)s
    order by snapshot_date desc
    limit %(limit)s offset %(offset)s
"""


def _rows(conn, query: str, params: dict) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def current_snapshot(conn, limit: int, offset: int) -> dict:
    day, total = conn.execute(
        "select t.snapshot_date, count(s.id) from analytics.trending_history as t"
        " left join catalog.songs as s on s.id = t.song_id and s.taken_down_at is null"
        " where t.snapshot_date = (select max(snapshot_date) from analytics.trending_history)"
        " group by t.snapshot_date"
    ).fetchone() or (None, 0)
    items = []
    if day is not None:
        items = _rows(conn, SNAPSHOT_SQL, {"day": day, "limit": limit, "offset": offset})
    return {
        "snapshot_date": day.isoformat() if day else None,
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": items,
    }


def song_history(conn, song_id: str, limit: int, offset: int) -> dict | None:
    """Every snapshot the song was ranked in, newest first; None for an unknown song or one
    taken down."""
    known = conn.execute(
        "select 1 from catalog.songs where id = %s and taken_down_at is null", (song_id,)
    ).fetchone()
    if known is None:
        return None
    total = conn.execute(
        "select count(*) from analytics.trending_history where song_id = %s", (song_id,)
    ).fetchone()[0]
    items = _rows(conn, HISTORY_SQL, {"song_id": song_id, "limit": limit, "offset": offset})
    for item in items:
        item["snapshot_date"] = item["snapshot_date"].isoformat()
    return {"song_id": song_id, "total": total, "limit": limit, "offset": offset, "items": items}
