"""Playlists: POST and GET /users/<user_id>/playlists; GET, PATCH and DELETE
/playlists/<playlist_id>; POST /playlists/<playlist_id>/songs, DELETE
/playlists/<playlist_id>/songs/<song_id>, PUT /playlists/<playlist_id>/order
(webapp.services.playlists; docs/playlists.md).

Who may do what: anyone may read a public playlist, only its owner (or a service with
``playlists:read:any``) a private one, which is 404 to everyone else (its existence is not
revealed). Only the owner (or a service with ``playlists:write:any``) changes a playlist:
another caller gets 403 for a public playlist, 404 for a private one.
"""

from __future__ import annotations

from typing import Annotated

from flask import jsonify, request
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SkipValidation,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from recsys.events import not_blank
from recsys.identity.principal import Principal
from webapp.api import api
from webapp.api.answers import Playlist, Playlists, PlaylistWithSongs, SongsAdded
from webapp.api.auth import COOKIE, acts_for, caller, known_caller
from webapp.api.params import Body, Invalid, Page, Text, operation
from webapp.api.recs import UserPath
from webapp.errors import ApiError, not_found
from webapp.identity import forbidden
from webapp.resources import resources
from webapp.services import playlists
from webapp.services.playlists import MAX_DESCRIPTION, MAX_NAME, MAX_SONGS

READ_ANY, WRITE_ANY = "playlists:read:any", "playlists:write:any"
INVALID_PLAYLIST = Invalid(422, "invalid_playlist", "the playlist was not saved")
INVALID_SONGS = Invalid(422, "invalid_songs", "no song was added")
INVALID_ORDER = Invalid(422, "invalid_order", "the order was not changed")

Name = Annotated[
    Text,
    StringConstraints(max_length=MAX_NAME),
    AfterValidator(not_blank),
    Field(description=f"1 to {MAX_NAME} characters, kept as typed (show it as text)."),
]
Description = Annotated[
    Text,
    StringConstraints(max_length=MAX_DESCRIPTION),
    Field(description=f"At most {MAX_DESCRIPTION:,} characters, kept as typed."),
]
Position = Annotated[StrictInt, Field(ge=1, le=MAX_SONGS)]
# Each song id is checked by the view, so that an error names its index.
SongIds = SkipValidation[list[Text]]


class PlaylistPath(BaseModel):
    playlist_id: Text


class PlaylistSongPath(BaseModel):
    playlist_id: Text
    song_id: Text


class NewPlaylist(Body):
    name: Name
    description: Description | None = None
    public: StrictBool = False


class PlaylistChange(Body):
    """What to change; a field left out stays as it is (a null description clears it)."""

    name: Name = None
    description: Description | None = None
    public: StrictBool = None


class SongsToAdd(Body):
    song_ids: SongIds = Field(description=f"1 to {MAX_SONGS:,} song ids, added in this order.")
    position: Position | None = Field(
        None, description="Where the first goes (1-based); default: after the last song."
    )


class NewOrder(Body):
    """Either ``song_ids``, the whole new order, or a move ``from`` one position ``to``
    another."""

    song_ids: SongIds | None = Field(None, description="Every song of the playlist, once.")
    from_: Position | None = Field(None, alias="from", description="The position to move from.")
    to: Position | None = Field(None, description="The position it goes to.")


def song_id_list(values, field: str = "song_ids", at_most: int = MAX_SONGS) -> list[str]:
    """The list of song ids, or a 422 naming each item that is not one (``song_ids[3]``)."""
    if not isinstance(values, list):
        problems = [{"field": field, "reason": "must be a list of song ids"}]
    elif not 1 <= len(values) <= at_most:
        problems = [{"field": field, "reason": f"must hold 1 to {at_most:,} song ids"}]
    else:
        problems = [
            {"field": f"{field}[{i}]", "reason": "must be a song id (a non-empty string)"}
            for i, v in enumerate(values)
            if not isinstance(v, str) or not v.strip() or "\x00" in v
        ]
    if problems:
        raise ApiError(422, "invalid_songs", "no song was given right", problems)
    return values


# --- who may read and change -------------------------------------------------------------


def reader() -> Principal | None:
    """The caller of a read: None for a request with no token (it sees public playlists);
    a request with a token that fails a check is 401, not anonymous."""
    if request.headers.get("Authorization") is not None or request.cookies.get(COOKIE):
        return caller()
    return known_caller()


def may_read(who: Principal | None, found: playlists.Found) -> bool:
    if found.public:
        return True
    return who is not None and (
        who.may_act_for(found.user_id, READ_ANY) or who.may_act_for(found.user_id, WRITE_ANY)
    )


def readable(conn, playlist_id: str) -> playlists.Found:
    found = playlists.find(conn, playlist_id)
    if found is None or not may_read(reader(), found):
        raise playlists.unknown_playlist(playlist_id)
    return found


def writable(conn, playlist_id: str, who: Principal) -> playlists.Found:
    """The playlist, locked for the caller's transaction; 404 when the caller may not see
    it, 403 when they may see but not change it."""
    found = playlists.find(conn, playlist_id, lock=True)
    if found is None or not may_read(who, found):
        raise playlists.unknown_playlist(playlist_id)
    if not who.may_act_for(found.user_id, WRITE_ANY):
        if who.kind == "listener":
            message = f"playlist {found.id} is listener {found.user_id!r}'s: only they change it"
        else:
            message = f"the token has no {WRITE_ANY!r} scope to change listener's playlists"
        raise forbidden(message, "playlist_id", "not the owner's playlist")
    return found


# --- routes ------------------------------------------------------------------------------


@api.post("/users/<user_id>/playlists")
@acts_for("user_id", WRITE_ANY)
@operation(
    "Create a playlist for a listener.",
    path=UserPath,
    body=NewPlaylist,
    invalid=INVALID_PLAYLIST,
    answers={201: ("The new playlist (no songs yet).", Playlist), 404: "No such user."},
)
def create_playlist(user_id: str, body: NewPlaylist):
    with resources().pool.connection() as conn:
        created = playlists.create(conn, user_id, body.name, body.description, body.public)
    if created is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(created), 201


@api.get("/users/<user_id>/playlists")
@operation(
    "A listener's playlists, newest first: all of them for the listener (or a service with"
    " playlists:read:any), the public ones for anyone else.",
    path=UserPath,
    query=Page,
    answers={
        200: ("A page of playlists.", Playlists),
        401: "A bearer token that failed a check (no token at all: public playlists).",
        404: "No such user.",
    },
)
def list_playlists(user_id: str, query: Page):
    who = reader()
    with_private = who is not None and (
        who.may_act_for(user_id, READ_ANY) or who.may_act_for(user_id, WRITE_ANY)
    )
    with resources().pool.connection() as conn:
        found = playlists.of_listener(conn, user_id, with_private, query.limit, query.offset)
    if found is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(found)


@api.get("/playlists/<playlist_id>")
@operation(
    "A playlist and a page of its songs, in order.",
    path=PlaylistPath,
    query=Page,
    answers={
        200: ("The playlist; songs.items is the page.", PlaylistWithSongs),
        401: "A bearer token that failed a check.",
        404: "No such playlist, or another listener's private one.",
    },
)
def get_playlist(playlist_id: str, query: Page):
    with resources().pool.connection() as conn:
        found = readable(conn, playlist_id)
        answer = playlists.with_songs(conn, found.id, query.limit, query.offset)
    if answer is None:  # deleted meanwhile
        raise playlists.unknown_playlist(playlist_id)
    return jsonify(answer)


WRITE_ANSWERS = {
    401: "No bearer token, or one that failed a check.",
    403: "Another listener's public playlist: only its owner changes it.",
    404: "No such playlist, or another listener's private one.",
}


@api.patch("/playlists/<playlist_id>")
@operation(
    "Rename a playlist, change its description, make it public or private.",
    path=PlaylistPath,
    body=PlaylistChange,
    invalid=INVALID_PLAYLIST,
    answers={200: ("The playlist, changed.", Playlist), **WRITE_ANSWERS},
)
def change_playlist(playlist_id: str, body: PlaylistChange):
    who = caller()
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if not changes:
        raise ApiError(
            422,
            INVALID_PLAYLIST.error,
            INVALID_PLAYLIST.message,
            [{"field": "body", "reason": "give name, description or public"}],
        )
    with resources().pool.connection() as conn, conn.transaction():
        found = writable(conn, playlist_id, who)
        changed = playlists.update(conn, found.id, changes)
    return jsonify(changed)


@api.delete("/playlists/<playlist_id>")
@operation(
    "Delete a playlist and its list of songs.",
    path=PlaylistPath,
    answers={204: "Deleted.", **WRITE_ANSWERS},
)
def delete_playlist(playlist_id: str):
    who = caller()
    with resources().pool.connection() as conn, conn.transaction():
        found = writable(conn, playlist_id, who)
        playlists.delete(conn, found.id)
    return "", 204


@api.post("/playlists/<playlist_id>/songs")
@operation(
    "Add songs to a playlist, all or none; each added song is an add_to_playlist event.",
    path=PlaylistPath,
    body=SongsToAdd,
    invalid=INVALID_SONGS,
    answers={
        201: ("The songs added, at their positions.", SongsAdded),
        **WRITE_ANSWERS,
        409: f"The playlist would pass {MAX_SONGS:,} songs; none was added.",
        422: "A song unknown, taken down, already in the playlist or given twice (each named"
        " song_ids[i]), or a position beyond the end; none was added.",
    },
    description="The songs are added in one transaction; then their add_to_playlist events"
    " go to the event log. If the log does not confirm them, the songs stay added and"
    " events.recorded is false (docs/playlists.md#the-add_to_playlist-event).",
)
def add_playlist_songs(playlist_id: str, body: SongsToAdd):
    who = caller()
    song_ids = song_id_list(body.song_ids)
    with resources().pool.connection() as conn:
        with conn.transaction():
            found = writable(conn, playlist_id, who)
            added = playlists.add_songs(conn, found.id, song_ids, body.position)
        count = playlists.details(conn, found.id)["song_count"]
    events = playlists.publish_added(
        resources().event_sink, playlists.added_events(found.user_id, added)
    )
    answer = {
        "playlist_id": found.id,
        "added": [{"song_id": a["song_id"], "position": a["position"]} for a in added],
        "song_count": count,
        "events": events,
    }
    return jsonify(answer), 201


@api.delete("/playlists/<playlist_id>/songs/<song_id>")
@operation(
    "Remove a song from a playlist; the songs after it move up.",
    path=PlaylistSongPath,
    answers={204: "Removed.", **WRITE_ANSWERS, 404: "No such playlist, or song in it."},
)
def remove_playlist_song(playlist_id: str, song_id: str):
    who = caller()
    with resources().pool.connection() as conn, conn.transaction():
        found = writable(conn, playlist_id, who)
        if not playlists.remove_song(conn, found.id, song_id):
            raise ApiError(
                404,
                "unknown_song",
                f"playlist {found.id} does not hold song {song_id!r}",
                [{"field": "song_id", "reason": "not in the playlist"}],
            )
    return "", 204


@api.put("/playlists/<playlist_id>/order")
@operation(
    "Reorder a playlist: the whole new order, or one move from a position to another.",
    path=PlaylistPath,
    body=NewOrder,
    invalid=INVALID_ORDER,
    answers={
        200: ("The playlist and its first page of songs.", PlaylistWithSongs),
        **WRITE_ANSWERS,
        422: "An order that misses, repeats or adds songs (each named), or a position the"
        " playlist does not have; nothing changed.",
    },
)
def reorder_playlist(playlist_id: str, body: NewOrder):
    who = caller()
    moving = body.from_ is not None or body.to is not None
    if (body.song_ids is None) == (not moving) or (moving and None in (body.from_, body.to)):
        raise ApiError(
            422,
            INVALID_ORDER.error,
            INVALID_ORDER.message,
            [{"field": "body", "reason": "give either song_ids (the whole order) or both"
              " from and to"}],
        )  # fmt: skip
    order = None if moving else song_id_list(body.song_ids)
    with resources().pool.connection() as conn:
        with conn.transaction():
            found = writable(conn, playlist_id, who)
            if moving:
                playlists.move(conn, found.id, body.from_, body.to)
            else:
                playlists.reorder(conn, found.id, order)
        answer = playlists.with_songs(conn, found.id, Page().limit, 0)
    return jsonify(answer)
