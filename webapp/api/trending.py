"""GET /api/v1/trending and /api/v1/trending/history: the nightly trending snapshots."""

from __future__ import annotations

from typing import Annotated

from flask import jsonify
from pydantic import StringConstraints

from webapp.api import api
from webapp.api.params import Page, Text, operation
from webapp.errors import not_found
from webapp.resources import resources
from webapp.services import trending


class HistoryQuery(Page):
    song_id: Annotated[Text, StringConstraints(strip_whitespace=True)]


@api.get("/trending")
@operation(
    "The latest trending snapshot with rank changes.",
    query=Page,
    answers={200: "A page of the snapshot."},
)
def current_trending(query: Page):
    with resources().pool.connection() as conn:
        return jsonify(trending.current_snapshot(conn, query.limit, query.offset))


@api.get("/trending/history")
@operation(
    "Every snapshot a song was ranked in, newest first.",
    query=HistoryQuery,
    answers={200: "A page of the song's history.", 404: "No such song."},
)
def trending_history(query: HistoryQuery):
    with resources().pool.connection() as conn:
        history = trending.song_history(conn, query.song_id, query.limit, query.offset)
    if history is None:
        raise not_found("song", "song_id", query.song_id)
    return jsonify(history)
