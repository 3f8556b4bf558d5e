"""Spotify's Extended Streaming History (``Streaming_History_Audio_*.json``): a JSON array,
one playback an item.

    {"ts": "2023-01-02T10:11:12Z", "ms_played": 183000,
     "master_metadata_track_name": "...", "master_metadata_album_artist_name": "...",
     "master_metadata_album_album_name": "...", "spotify_track_uri": "spotify:track:...",
     "reason_start": "trackdone", "reason_end": "trackdone", "shuffle": false,
     "skipped": false, "platform": "...", "conn_country": "..", "offline": false,
     "incognito_mode": false}

Spotify records real skips, so each playback maps on its own terms, in this order:
``reason_end`` "trackdone" is a ``complete``; "fwdbtn", or ``skipped`` true, is a ``skip``;
otherwise at least ``play_min_seconds`` (30) played is a ``listen``, less a ``skip``. The
seconds heard are ``ms_played`` / 1000, rounded down. ``ts`` is when the playback ended, so
the listen's time is ``ts`` less ``ms_played``. Rows without a track (podcast episodes,
audiobooks: null track fields) are counted and left out. ``spotify_track_uri`` matches
``catalog.songs.spotify_uri`` and is the event id's track key. The file names no listener
(older exports have ``username``): ``--user`` says whose history it is.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from recsys.importers.json_rows import FieldProblem, get, integer, text
from recsys.importers.listens import (
    Columns,
    ParseContext,
    RowError,
    iso_ms,
)
from recsys.importers.reading import Source, json_items, refuse_empty

SOURCE = "spotify"
SKIP_REASONS = ("fwdbtn",)
FIELDS = {"user": "username", "timestamp": "ts", "seconds": "ms_played"}


def parse(source: Source, context: ParseContext) -> Iterator[pa.Table | RowError]:
    refuse_empty(source)
    batch = Columns(source, context, FIELDS)
    for index, item in json_items(source):
        where = f"$[{index}]"
        try:
            listen = _listen(item, context)
        except FieldProblem as problem:
            batch.reject(index, source.error(where, problem.field, problem.reason, _dump(item)))
            continue
        if listen is not None:
            batch.add(where, item, row=index, **listen)
        if batch.full():
            yield from batch.flush()
    yield from batch.flush()


def action_of(reason_end: str | None, skipped: bool | None, seconds: int, play_min: int) -> str:
    if reason_end == "trackdone":
        return "complete"
    if reason_end in SKIP_REASONS or skipped is True:
        return "skip"
    return "listen" if seconds >= play_min else "skip"


def _listen(item, context: ParseContext) -> dict | None:
    if not isinstance(item, dict):
        raise FieldProblem("(item)", "must be a JSON object (a playback)")
    uri = text(item, "spotify_track_uri", required=False)
    title = text(item, "master_metadata_track_name", required=False)
    if uri is None and title is None:
        kind = "podcast" if get(item, "episode_name", required=False) else "not a track"
        context.left_out[kind] += 1
        return None
    user = context.user or text(item, "username", required=False)
    if user is None:
        raise FieldProblem("username", "the file names no listener: pass --user")
    ended = text(item, "ts")
    ended_ms = iso_ms(ended)
    if ended_ms is None:
        raise FieldProblem("ts", f"{ended!r} is not an ISO 8601 UTC time")
    played_ms = integer(item, "ms_played", unit=" (milliseconds)")
    skipped = get(item, "skipped", required=False)
    if skipped is not None and not isinstance(skipped, bool):
        raise FieldProblem("skipped", "must be true, false or null")
    seconds = played_ms // 1000
    return {
        "user_id": user,
        "timestamp": ended_ms - played_ms,
        "artist": text(item, "master_metadata_album_artist_name"),
        "title": text(item, "master_metadata_track_name"),
        "spotify_uri": text(item, "spotify_track_uri"),
        "action": action_of(
            text(item, "reason_end", required=False), skipped, seconds, context.play_min_seconds
        ),
        "seconds": seconds,
        "track_key": uri,
    }


def _dump(item) -> str:
    return orjson.dumps(item, default=str).decode()
