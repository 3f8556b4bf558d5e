"""Listeners' playlists (docs/playlists.md): create, list, read, rename, delete, add and
remove songs, reorder; and the ``add_to_playlist`` events of the songs added.

Every change runs in one transaction that first locks the playlist's row (``select ... for
update``): two changes of one playlist take turns, so positions stay 1..n with no gap and
no repeat, and a batch of songs is added whole or not at all. Each bad input is an ApiError
naming the field (and the index of the song in a list) before anything is written.

Who may read or change a playlist is the API's (webapp.api.playlists); this module takes
the playlist as found. Reads and writes catalog.playlists and catalog.playlist_songs; reads
catalog.users, catalog.songs and catalog.artists. The events go to Kafka through the app's
event sink (webapp.services.event_sink) after the change commits.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from psycopg.rows import dict_row

from recsys.events import new_event_id
from webapp.errors import ApiError, not_found
from webapp.services.event_sink import EventOutcome, EventSink, KafkaUnavailable

# The most songs a playlist holds (the database refuses a position beyond it too).
MAX_SONGS = 10_000
MAX_NAME = 200
MAX_DESCRIPTION = 2_000
ADD_TO_PLAYLIST = "add_to_playlist"

PLAYLIST_SQL = """
    select p.id::text as id, p.user_id, p.name, p.description, p.public,
           (select count(*) from catalog.playlist_songs as ps where ps.playlist_id = p.id)
               as song_count,
           p.created_at, p.updated_at
    from catalog.playlists as p
"""
SONGS_PAGE_SQL = """
    select ps.position, s.id as song_id, s.title, s.artist_id,
           (select a.name from catalog.artists as a where a.id = s.artist_id) as artist,
           s.genre, s.duration_s, s.image_url,
           case when s.taken_down_at is null then s.audio_url end as audio_url,
           s.taken_down_at is null as available, ps.added_at
    from catalog.playlist_songs as ps
    join catalog.songs as s on s.id = ps.song_id
    where ps.playlist_id = %s
    order by ps.position
    limit %s offset %s
"""


@dataclass(frozen=True)
class Found:
    """A playlist as the access checks need it."""

    id: str
    user_id: str
    public: bool


def _shaped(row: dict) -> dict:
    for key in ("created_at", "updated_at", "added_at"):
        if row.get(key) is not None:
            row[key] = row[key].isoformat()
    return row


def playlist_uuid(playlist_id: str) -> str | None:
    """The id in canonical form, or None when it cannot name a playlist."""
    try:
        return str(uuid.UUID(playlist_id))
    except ValueError:
        return None


def unknown_playlist(playlist_id: str) -> ApiError:
    return not_found("playlist", "playlist_id", playlist_id)


def find(conn, playlist_id: str, lock: bool = False) -> Found | None:
    """The playlist's owner and visibility; with ``lock``, its row locked to the end of the
    caller's transaction (every change of the playlist takes that lock first)."""
    canonical = playlist_uuid(playlist_id)
    if canonical is None:
        return None
    row = conn.execute(
        "select id::text, user_id, public from catalog.playlists where id = %s"
        + (" for update" if lock else ""),
        (canonical,),
    ).fetchone()
    return Found(*row) if row else None


def create(conn, user_id: str, name: str, description: str | None, public: bool) -> dict | None:
    """The new playlist, or None for an unknown listener."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "insert into catalog.playlists (user_id, name, description, public)"
            " select u.id, %s, %s, %s from catalog.users as u where u.id = %s"
            " returning id::text as id, user_id, name, description, public, 0::bigint as"
            " song_count, created_at, updated_at",
            (name, description, public, user_id),
        ).fetchone()
    return _shaped(row) if row else None


def of_listener(conn, user_id: str, with_private: bool, limit: int, offset: int) -> dict | None:
    """A page of the listener's playlists, newest first (only the public ones unless
    ``with_private``), with their total; None for an unknown listener."""
    known, total = conn.execute(
        "select exists (select 1 from catalog.users where id = %s),"
        " (select count(*) from catalog.playlists where user_id = %s and (public or %s))",
        (user_id, user_id, with_private),
    ).fetchone()
    if not known:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            PLAYLIST_SQL + " where p.user_id = %s and (p.public or %s)"
            " order by p.created_at desc, p.id limit %s offset %s",
            (user_id, with_private, limit, offset),
        ).fetchall()
    return {"user_id": user_id, "total": total, "limit": limit, "offset": offset,
            "items": [_shaped(r) for r in rows]}  # fmt: skip


def details(conn, playlist_id: str) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(PLAYLIST_SQL + " where p.id = %s", (playlist_id,)).fetchone()
    return _shaped(row) if row else None


def with_songs(conn, playlist_id: str, limit: int, offset: int) -> dict | None:
    """The playlist and a page of its songs in order (a song taken down since it was added
    stays in its place, ``available`` false and without its audio)."""
    with conn.transaction():  # the playlist and its page from one snapshot
        conn.execute("set transaction isolation level repeatable read")
        found = details(conn, playlist_id)
        if found is None:
            return None
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(SONGS_PAGE_SQL, (playlist_id, limit, offset)).fetchall()
    found["songs"] = {"total": found["song_count"], "limit": limit, "offset": offset,
                      "items": [_shaped(r) for r in rows]}  # fmt: skip
    return found


def update(conn, playlist_id: str, changes: dict) -> dict:
    """The playlist with ``changes`` (name, description, public) applied; the caller holds
    its lock."""
    if changes:
        sets = ", ".join(f"{column} = %({column})s" for column in changes)
        conn.execute(
            f"update catalog.playlists set {sets}, updated_at = now() where id = %(id)s",
            {**changes, "id": playlist_id},
        )
    return details(conn, playlist_id)


def delete(conn, playlist_id: str) -> None:
    conn.execute("delete from catalog.playlists where id = %s", (playlist_id,))


def _invalid(errors: list[dict], message: str) -> ApiError:
    return ApiError(422, "invalid_songs", message, errors)


def add_songs(conn, playlist_id: str, song_ids: list[str], position: int | None) -> list[dict]:
    """Add ``song_ids`` in order at ``position`` (1-based; default: after the last song),
    all or none; the caller holds the playlist's lock. Returns the songs added with their
    positions and lengths. 422 naming ``song_ids[i]`` for a song unknown, taken down,
    already in the playlist or given twice; 422 naming ``position`` outside 1..n+1; 409 when
    the playlist would pass MAX_SONGS songs."""
    held = conn.execute(
        "select count(*) from catalog.playlist_songs where playlist_id = %s", (playlist_id,)
    ).fetchone()[0]
    asked = list(dict.fromkeys(song_ids))
    catalog = {
        song: (taken_down, duration)
        for song, taken_down, duration in conn.execute(
            "select id, taken_down_at is not null, duration_s from catalog.songs"
            " where id = any(%s)",
            (asked,),
        )
    }
    present = dict(
        conn.execute(
            "select song_id, position from catalog.playlist_songs"
            " where playlist_id = %s and song_id = any(%s)",
            (playlist_id, asked),
        ).fetchall()
    )
    errors, first_index = [], {}
    for index, song in enumerate(song_ids):
        field = f"song_ids[{index}]"
        if song in first_index:
            errors.append({"field": field, "reason": f"repeats song_ids[{first_index[song]}]"})
            continue
        first_index[song] = index
        if song not in catalog:
            errors.append({"field": field, "reason": "unknown song"})
        elif catalog[song][0]:
            errors.append({"field": field, "reason": "taken down: it cannot be added"})
        elif song in present:
            reason = f"already in the playlist, at position {present[song]}"
            errors.append({"field": field, "reason": reason})
    if errors:
        raise _invalid(errors, f"no song was added: {len(errors)} of them cannot be")
    if held + len(song_ids) > MAX_SONGS:
        raise ApiError(
            409,
            "playlist_full",
            f"a playlist holds at most {MAX_SONGS:,} songs; no song was added",
            [{"field": "song_ids", "reason": f"the playlist holds {held} songs: at most"
              f" {MAX_SONGS - held} more can be added, not {len(song_ids)}"}],
        )  # fmt: skip
    at = held + 1 if position is None else position
    if not 1 <= at <= held + 1:
        raise _invalid(
            [{"field": "position", "reason": f"must be from 1 to {held + 1} (the playlist"
              f" holds {held} songs)"}],
            "no song was added: no such position",
        )  # fmt: skip
    count = len(song_ids)
    conn.execute(
        "update catalog.playlist_songs set position = position + %s"
        " where playlist_id = %s and position >= %s",
        (count, playlist_id, at),
    )
    added_at = conn.execute(
        "insert into catalog.playlist_songs (playlist_id, song_id, position)"
        " select %s, n.song_id, %s + n.ord - 1"
        " from unnest(%s::text[]) with ordinality as n (song_id, ord)"
        " returning added_at",
        (playlist_id, at, song_ids),
    ).fetchone()[0]
    _touch(conn, playlist_id)
    return [
        {"song_id": song, "position": at + i, "duration_s": catalog[song][1],
         "added_at": added_at}
        for i, song in enumerate(song_ids)
    ]  # fmt: skip


def remove_song(conn, playlist_id: str, song_id: str) -> bool:
    """Remove the song and close the gap; False when the playlist does not hold it."""
    row = conn.execute(
        "delete from catalog.playlist_songs where playlist_id = %s and song_id = %s"
        " returning position",
        (playlist_id, song_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute(
        "update catalog.playlist_songs set position = position - 1"
        " where playlist_id = %s and position > %s",
        (playlist_id, row[0]),
    )
    _touch(conn, playlist_id)
    return True


def _order_problems(current: list[str], order: list[str]) -> list[dict]:
    held = set(current)
    errors, first_index = [], {}
    for index, song in enumerate(order):
        field = f"song_ids[{index}]"
        if song in first_index:
            errors.append({"field": field, "reason": f"repeats song_ids[{first_index[song]}]"})
            continue
        first_index[song] = index
        if song not in held:
            errors.append({"field": field, "reason": "not in the playlist"})
    missing = [song for song in current if song not in first_index]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        errors.append(
            {"field": "song_ids", "reason": f"misses {len(missing)} of the playlist's"
             f" {len(current)} songs ({shown}): give the whole new order"}
        )  # fmt: skip
    return errors


def reorder(conn, playlist_id: str, order: list[str]) -> None:
    """Put the playlist's songs in ``order``, which must name each of them exactly once;
    the caller holds the playlist's lock."""
    current = [
        r[0]
        for r in conn.execute(
            "select song_id from catalog.playlist_songs where playlist_id = %s order by position",
            (playlist_id,),
        )
    ]
    errors = _order_problems(current, order)
    if errors:
        raise ApiError(422, "invalid_order", "the order was not changed", errors)
    conn.execute(
        "update catalog.playlist_songs as ps set position = o.ord"
        " from unnest(%s::text[]) with ordinality as o (song_id, ord)"
        " where ps.playlist_id = %s and ps.song_id = o.song_id and ps.position <> o.ord",
        (order, playlist_id),
    )
    _touch(conn, playlist_id)


def move(conn, playlist_id: str, source: int, target: int) -> None:
    """Move the song at position ``source`` to ``target``, the songs between shifting by
    one; 422 naming ``from`` or ``to`` for a position the playlist does not have."""
    held = conn.execute(
        "select count(*) from catalog.playlist_songs where playlist_id = %s", (playlist_id,)
    ).fetchone()[0]
    errors = [
        {"field": name, "reason": f"no position {value}: the playlist holds {held} songs"
         + (f" (1 to {held})" if held else "")}
        for name, value in (("from", source), ("to", target))
        if not 1 <= value <= held
    ]  # fmt: skip
    if errors:
        raise ApiError(422, "invalid_order", "the order was not changed", errors)
    if source == target:
        return
    conn.execute(
        "update catalog.playlist_songs set position = case"
        " when position = %(a)s then %(b)s"
        " when %(a)s < %(b)s then position - 1 else position + 1 end"
        " where playlist_id = %(id)s and position between least(%(a)s, %(b)s)"
        " and greatest(%(a)s, %(b)s)",
        {"a": source, "b": target, "id": playlist_id},
    )
    _touch(conn, playlist_id)


def _touch(conn, playlist_id: str) -> None:
    conn.execute("update catalog.playlists set updated_at = now() where id = %s", (playlist_id,))


# --- the add_to_playlist events ---------------------------------------------------------


def added_events(user_id: str, added: list[dict]) -> list[dict]:
    """One ``add_to_playlist`` event per song added, for the playlist's owner (the event
    contract's fields: no seconds heard, the song's length as total_duration)."""
    now_ms = int(time.time() * 1000)
    return [
        {
            "event_id": new_event_id(),
            "user_id": user_id,
            "track_id": song["song_id"],
            "timestamp": now_ms,
            "action": ADD_TO_PLAYLIST,
            "duration": 0,
            "total_duration": song["duration_s"],
            "source": "real_user",
        }
        for song in added
    ]


def publish_added(sink: EventSink, events: list[dict]) -> dict:
    """Send the events to the log and wait for the broker, within the send timeout. The
    playlist change is committed whatever happens: the answer says which events the log
    confirmed (``recorded``) and which it did not (``failed``)."""
    outcomes = [EventOutcome(i, "pending", event_id=e["event_id"]) for i, e in enumerate(events)]
    try:
        sink.publish(list(events), outcomes)
    except KafkaUnavailable:
        pass  # every outcome says failed
    recorded = [o.event_id for o in outcomes if o.status == "accepted"]
    return {
        "recorded": len(recorded) == len(events),
        "event_ids": recorded,
        "failed": len(events) - len(recorded),
    }
