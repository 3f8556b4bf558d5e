"""Catalog admin while serving: POST /admin/songs (add or update up to 1,000 songs, all or
nothing), POST /admin/songs/<song_id>/takedown and .../restore. Each is ``@admin_required``.

A song in the body has the columns of a catalog file's row (recsys.catalog.rows,
docs/importing.md#catalog), written by the same store as ``import catalog``. A takedown is
committed before it is answered, so every request that starts after the answer no longer
finds, recommends or ranks the song.

Each write is audited (recsys.audit) in its own transaction: ``songs.upsert`` (target: how
many songs), ``song.takedown`` and ``song.restore`` (target: the song id); an unknown song or
conflicting songs are recorded with that outcome, and nothing was changed.
"""

from __future__ import annotations

from typing import Annotated

from flask import jsonify
from pydantic import BaseModel, Field

from recsys.audit import audited
from recsys.catalog import store
from recsys.catalog.rows import CatalogSong, validate_row
from webapp.api import api
from webapp.api.audit import actor
from webapp.api.auth import admin_required
from webapp.api.params import Body, Invalid, Text, operation
from webapp.errors import ApiError, not_found
from webapp.resources import resources

MAX_SONGS = 1000
INVALID_SONGS = Invalid(422, "invalid_songs", "no song was written")


class SongsBatch(Body):
    songs: Annotated[
        list[CatalogSong],
        Field(min_length=1, max_length=MAX_SONGS, description="Catalog rows, upserted by id."),
    ]


class Counts(BaseModel):
    inserted: int
    updated: int
    unchanged: int


class SongsWritten(BaseModel):
    songs: Counts
    artists: Counts
    lyrics_changed: int = Field(
        description="Songs whose lyrics are new, changed or removed: the next lyrics_embeddings"
        " run (daily, or POST /admin/embed) embeds them."
    )


class TakedownState(BaseModel):
    song_id: str
    taken_down: bool
    taken_down_at: str | None
    changed: bool = Field(description="False when the song already was in that state.")


class SongPath(BaseModel):
    song_id: Text


def _invalid(errors: list[dict]) -> ApiError:
    return ApiError(
        INVALID_SONGS.status, INVALID_SONGS.error, INVALID_SONGS.message, errors[:MAX_SONGS]
    )


def _songs(body) -> list[CatalogSong]:
    """The body's songs, or 422 naming every bad field as ``songs[<index>].<field>``."""
    if not isinstance(body, dict):
        raise _invalid([{"field": "body", "reason": "must be a JSON object"}])
    unknown = sorted(set(body) - {"songs"})
    rows = body.get("songs")
    errors = [{"field": name, "reason": "unknown field"} for name in unknown]
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_SONGS:
        reason = f"must be a list of 1 to {MAX_SONGS} songs"
        raise _invalid([{"field": "songs", "reason": reason}, *errors])
    songs = []
    for index, raw in enumerate(rows):
        song, problems = validate_row(raw)
        errors += [{"field": f"songs[{index}].{p.field}", "reason": p.reason} for p in problems]
        songs.append(song)
    if errors:
        raise _invalid(errors)
    return songs


@api.post("/admin/songs")
@admin_required
@operation(
    "Add or update up to 1,000 songs, all or nothing.",
    body=SongsBatch,
    check_body=False,  # each song's errors are named by its index
    invalid=INVALID_SONGS,
    answers={200: ("What changed (nothing for songs equal to the stored ones).", SongsWritten)},
    description="Upserted by song_id (artists by artist_id), as `import catalog` does; an"
    " optional field a song leaves out keeps its stored value. 422 names every bad field as"
    " songs[<index>].<field>, and nothing is written.",
)
def upsert_songs(body):
    songs = _songs(body)
    ids = [song.song_id for song in songs]
    written = None
    with resources().pool.connection() as conn:
        with audited(conn, actor(), "songs.upsert", f"{len(ids)} songs") as attempt:
            attempt.details["song_ids"] = ids[:20]  # enough to find them, not the whole batch
            store.stage(conn, enumerate(songs))
            conflicts = store.conflicts(conn)
            if conflicts:
                attempt.outcome = INVALID_SONGS.error  # nothing applied; staging is dropped
            else:
                written = store.apply(conn)
                attempt.details["written"] = written.as_dict()
    if written is None:
        raise _invalid(
            [{"field": f"songs[{c.line}].{c.field}", "reason": c.reason} for c in conflicts]
        )
    return jsonify(written.as_dict())


def _state(song_id: str, taken_down_at, changed: bool):
    return jsonify(
        {
            "song_id": song_id,
            "taken_down": taken_down_at is not None,
            "taken_down_at": taken_down_at.isoformat() if taken_down_at else None,
            "changed": changed,
        }
    )


@api.post("/admin/songs/<song_id>/takedown")
@admin_required
@operation(
    "Take a song down: from the next request on it is never recommended, found or shown in"
    " trending (its history is kept). Idempotent.",
    path=SongPath,
    answers={200: ("The song's state.", TakedownState), 404: "No such song."},
)
def take_down_song(song_id: str):
    with resources().pool.connection() as conn:
        with audited(conn, actor(), "song.takedown", song_id) as attempt:
            done = store.take_down(conn, song_id)
            if done is None:
                attempt.outcome = "unknown_song"
            else:
                attempt.details["changed"] = done[1]
    # answered only after the takedown and its audit row were committed
    if done is None:
        raise not_found("song", "song_id", song_id)
    return _state(song_id, *done)


@api.post("/admin/songs/<song_id>/restore")
@admin_required
@operation(
    "Serve a taken-down song again. Idempotent.",
    path=SongPath,
    answers={200: ("The song's state.", TakedownState), 404: "No such song."},
)
def restore_song(song_id: str):
    with resources().pool.connection() as conn:
        with audited(conn, actor(), "song.restore", song_id) as attempt:
            restored = store.restore(conn, song_id)
            if restored is None:
                attempt.outcome = "unknown_song"
            else:
                attempt.details["changed"] = restored
    if restored is None:
        raise not_found("song", "song_id", song_id)
    return _state(song_id, None, restored)
