"""GET /api/v1/recs/<user_id> (home page) and /api/v1/recs/<user_id>/<song_id> (next songs)."""

from __future__ import annotations

from flask import current_app, jsonify

from webapp import metrics
from webapp.api import api
from webapp.api.params import int_param
from webapp.errors import not_found
from webapp.ratelimit import limited
from webapp.resources import resources
from webapp.services.recs import Answer, Recommender, UnknownSong, UnknownUser


def _recommender() -> Recommender:
    recommender = current_app.extensions.get("recsys.recommender")
    if recommender is None:
        res = resources()
        recommender = Recommender(res.settings, res.sessions)
        current_app.extensions["recsys.recommender"] = recommender
    return recommender


def _page_params() -> tuple[int, int]:
    pool = current_app.config["RECSYS"].recs_candidate_pool
    return int_param("limit", 20, 1, 100), int_param("offset", 0, 0, pool)


def _answer(conn, recommender: Recommender, answer: Answer, limit: int, offset: int, **ids):
    kind = "next" if "song_id" in ids else "home"
    metrics.RECOMMENDATIONS.labels(kind, answer.mode, str(bool(answer.degraded)).lower()).inc()
    return jsonify(
        {
            **ids,
            "mode": answer.mode,
            "degraded": answer.degraded,
            "model_version": answer.model_version,
            "limit": limit,
            "offset": offset,
            "items": recommender.page(conn, answer, limit, offset),
        }
    )


@api.get("/recs/<user_id>")
@limited("recs")
def home_recommendations(user_id: str):
    limit, offset = _page_params()
    recommender = _recommender()
    with resources().pool.connection() as conn:
        try:
            answer = recommender.home(conn, user_id)
        except UnknownUser:
            raise not_found("user", "user_id", user_id) from None
        return _answer(conn, recommender, answer, limit, offset, user_id=user_id)


@api.get("/recs/<user_id>/<song_id>")
@limited("recs")
def next_song_recommendations(user_id: str, song_id: str):
    limit, offset = _page_params()
    recommender = _recommender()
    with resources().pool.connection() as conn:
        try:
            answer = recommender.next_songs(conn, user_id, song_id)
        except UnknownUser:
            raise not_found("user", "user_id", user_id) from None
        except UnknownSong:
            raise not_found("song", "song_id", song_id) from None
        body = _answer(conn, recommender, answer, limit, offset, user_id=user_id, song_id=song_id)
    return body
