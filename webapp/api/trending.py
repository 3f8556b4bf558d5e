"""GET /api/v1/trending and /api/v1/trending/history: the nightly trending snapshots."""

from __future__ import annotations

from flask import jsonify

from webapp.api import api
from webapp.api.params import page, required_param
from webapp.errors import not_found
from webapp.resources import resources
from webapp.services import trending


@api.get("/trending")
def current_trending():
    limit, offset = page()
    with resources().pool.connection() as conn:
        return jsonify(trending.current_snapshot(conn, limit, offset))


@api.get("/trending/history")
def trending_history():
    song_id = required_param("song_id")
    limit, offset = page()
    with resources().pool.connection() as conn:
        history = trending.song_history(conn, song_id, limit, offset)
    if history is None:
        raise not_found("song", "song_id", song_id)
    return jsonify(history)
