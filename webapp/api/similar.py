"""Songs like a song or a playlist: GET /songs/<song_id>/similar (anyone),
GET /recs/<user_id>/radio/<song_id> (a listener's song radio) and
GET /playlists/<playlist_id>/suggestions (songs that fit a playlist); docs/playlists.md."""

from __future__ import annotations

from flask import current_app, jsonify
from pydantic import BaseModel

from webapp.api import api
from webapp.api.answers import PlaylistSuggestions, Recommendations, SimilarSongs
from webapp.api.auth import acts_for
from webapp.api.params import RATE_LIMITED, Page, Text, operation
from webapp.api.playlists import PlaylistPath, readable
from webapp.api.recs import UserSongPath, _answer, _page
from webapp.errors import not_found
from webapp.ratelimit import limited
from webapp.resources import resources
from webapp.services import playlists, similar_read, song_radio, suggestions
from webapp.services.recs import UnknownSong, UnknownUser


class SongPath(BaseModel):
    song_id: Text


@api.get("/songs/<song_id>/similar")
@limited("recs")
@operation(
    "The songs most like a song: its ALS and lyrics neighbours, blended as next songs are.",
    path=SongPath,
    query=Page,
    answers={
        200: ("A page of similar songs; pages never overlap.", SimilarSongs),
        404: "No such song, or one taken down.",
        429: RATE_LIMITED,
    },
    description="No listener needed. score = 0.6 norm(als) + 0.4 norm(content)"
    " (RECSYS_NEXT_SONG_ALS_WEIGHT); artists capped per page (RECSYS_RECS_MAX_PER_ARTIST);"
    " offset is at most RECSYS_RECS_CANDIDATE_POOL.",
)
def similar_songs(song_id: str, query: Page):
    limit, offset = _page(query)
    # one statement (webapp.services.similar_read), a page of the list kept in the worker
    # or of the candidates it read
    with resources().pool.connection() as conn:
        try:
            answer = similar_read.similar_page(
                resources().recommender, resources().similar_songs, conn, song_id, limit, offset
            )
        except UnknownSong:
            raise not_found("song", "song_id", song_id) from None
    return jsonify(
        {
            "song_id": song_id,
            "mode": answer.mode,
            "degraded": answer.degraded,
            "model_version": answer.model_version,
            "limit": limit,
            "offset": offset,
            "items": answer.items,
        }
    )


@api.get("/recs/<user_id>/radio/<song_id>")
@limited("recs")
@acts_for("user_id", "recs:read:any")
@operation(
    "The next songs of a radio seeded by song_id, steered by the listener's session.",
    path=UserSongPath,
    query=Page,
    answers={
        200: ("A page of the radio's next songs (recorded as a radio impression).",
              Recommendations),
        404: "No such user or song.",
        429: RATE_LIMITED,
    },
    description="The seed's next songs (as GET /recs/<user_id>/<song_id>) blended with the"
    " next songs of the listener's newest qualifying play: 0.7 seed + 0.3 session. Recent"
    " plays, skips included, and disliked songs are left out. Ask again after each song"
    " (or after two quick skips) to refill. The listener's arm of a running up_next"
    " experiment applies to the radio too.",
)  # fmt: skip
def song_radio_recommendations(user_id: str, song_id: str, query: Page):
    limit, offset = _page(query)
    recommender = resources().recommender
    with resources().pool.connection() as conn:
        try:
            answer = song_radio.radio(recommender, conn, user_id, song_id)
        except UnknownUser:
            raise not_found("user", "user_id", user_id) from None
        except UnknownSong:
            raise not_found("song", "song_id", song_id) from None
        return _answer(conn, recommender, answer, limit, offset, surface="radio",
                       user_id=user_id, song_id=song_id)  # fmt: skip


@api.get("/playlists/<playlist_id>/suggestions")
@limited("recs")
@operation(
    "Songs that fit a playlist (not already in it), from its own songs' ALS and lyrics"
    " vectors, artists capped, each with the playlist song it is most like.",
    path=PlaylistPath,
    query=Page,
    answers={
        200: ("A page of suggestions; pages of one limit never overlap.", PlaylistSuggestions),
        401: "A bearer token that failed a check.",
        404: "No such playlist, or another listener's private one.",
        429: RATE_LIMITED,
    },
    description="Read like the playlist itself: anyone for a public one, its owner (or a"
    " service with playlists:read:any) for a private one. offset is at most"
    " RECSYS_RECS_CANDIDATE_POOL. The formula is recsys/continuation.py's.",
)
def playlist_suggestions(playlist_id: str, query: Page):
    limit, offset = _page(query)
    settings = current_app.config["RECSYS"]
    with resources().pool.connection() as conn:
        found = readable(conn, playlist_id)
        playlist = playlists.details(conn, found.id)
        if playlist is None:
            raise playlists.unknown_playlist(playlist_id)
        return jsonify(suggestions.suggest(conn, settings, playlist, limit, offset))
