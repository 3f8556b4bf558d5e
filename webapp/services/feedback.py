"""What listeners said about songs: the player's like, unlike and dislike events, kept per
(listener, song) in ``catalog.song_feedback`` as the latest of them.

Written when the events are accepted (after Kafka has them: the lake keeps every one of
them, this table only the latest word); read by the player's heart (``likes``), and by
serving, which never offers a listener a song they disliked and sends the artists they
disliked ``ARTIST_DISLIKES`` times or more to the end of the list (``recs``).

The latest event wins by (timestamp, event_id): replaying events, or an older event
arriving late, leaves the row as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from recsys.events import FEEDBACK_ACTIONS

# Dislikes of one artist's songs from which that artist's other songs go to the end.
ARTIST_DISLIKES = 2
STATE = {"like": "like", "dislike": "dislike", "unlike": "none"}
KINDS = ("like", "dislike")

_UPSERT = (
    "insert into catalog.song_feedback as f (user_id, song_id, feedback, at, event_id)"
    " values (%s, %s, %s, %s, %s)"
    " on conflict (user_id, song_id) do update"
    " set feedback = excluded.feedback, at = excluded.at, event_id = excluded.event_id"
    " where (excluded.at, excluded.event_id) > (f.at, f.event_id)"
)


def disliked_sql(user: str) -> tuple[str, str]:
    """Two columns for one of serving's reads: the disliked songs of the listener whose id
    is the SQL expression ``user``, and the artists with ARTIST_DISLIKES or more of them."""
    songs = (
        "coalesce((select array_agg(f.song_id) from catalog.song_feedback as f"
        f" where f.user_id = {user} and f.feedback = 'dislike'), '{{}}')"
    )
    artists = (
        "coalesce((select array_agg(artist_id) from (select s.artist_id"
        " from catalog.song_feedback as f join catalog.songs as s on s.id = f.song_id"
        f" where f.user_id = {user} and f.feedback = 'dislike'"
        f" group by s.artist_id having count(*) >= {ARTIST_DISLIKES}) as a), '{{}}')"
    )
    return songs, artists


def record(conn, events: list[dict]) -> int:
    """Apply the accepted events whose action is a like, unlike or dislike; how many."""
    rows = [
        (
            e["user_id"],
            e["track_id"],
            STATE[e["action"]],
            datetime.fromtimestamp(e["timestamp"] / 1000, UTC),
            e["event_id"],
        )
        for e in events
        if e["action"] in FEEDBACK_ACTIONS
    ]
    if rows:
        rows.sort(key=lambda r: (r[3], r[4]))  # one statement per row, oldest first
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_UPSERT, rows)
    return len(rows)


def listener_songs(conn, user_id: str, kind: str, limit: int, offset: int) -> dict | None:
    """A page of the songs ``user_id`` likes (``kind`` 'like') or dislikes, newest first,
    with their total; None for an unknown listener. Taken-down songs are left out."""
    row = conn.execute(
        "select u.id is not null, (select count(*) from catalog.song_feedback as f"
        " join catalog.songs as s on s.id = f.song_id and s.taken_down_at is null"
        " where f.user_id = %s and f.feedback = %s)"
        " from (select) as one left join catalog.users as u on u.id = %s",
        (user_id, kind, user_id),
    ).fetchone()
    if not row[0]:
        return None
    songs = conn.execute(
        "select s.id, s.title, a.name, f.at from catalog.song_feedback as f"
        " join catalog.songs as s on s.id = f.song_id and s.taken_down_at is null"
        " join catalog.artists as a on a.id = s.artist_id"
        " where f.user_id = %s and f.feedback = %s"
        " order by f.at desc, s.id limit %s offset %s",
        (user_id, kind, limit, offset),
    ).fetchall()
    items = [{"song_id": i, "title": t, "artist": a, "at": at.isoformat()} for i, t, a, at in songs]
    return {"user_id": user_id, "kind": kind, "total": row[1], "limit": limit,
            "offset": offset, "items": items}  # fmt: skip
