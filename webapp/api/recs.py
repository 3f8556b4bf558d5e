"""GET /api/v1/recs/<user_id> (home page) and /api/v1/recs/<user_id>/<song_id> (next songs)."""

from __future__ import annotations

import time

from flask import current_app, jsonify
from pydantic import BaseModel

from recsys import impressions
from recsys.events import new_event_id
from webapp import metrics
from webapp.api import api
from webapp.api.answers import Recommendations
from webapp.api.auth import acts_for
from webapp.api.params import RATE_LIMITED, Page, Text, operation
from webapp.errors import ApiError, not_found
from webapp.ratelimit import limited
from webapp.resources import resources
from webapp.services.recs import Answer, Recommender, UnknownSong, UnknownUser


class UserPath(BaseModel):
    user_id: Text


class UserSongPath(BaseModel):
    user_id: Text
    song_id: Text


def _page(query: Page) -> tuple[int, int]:
    """The page asked for; an offset past the candidate pool names nothing anyone ranked."""
    pool = current_app.config["RECSYS"].recs_candidate_pool
    if query.offset > pool:
        reason = f"must be an integer from 0 to {pool}"
        raise ApiError(
            400,
            "invalid_parameter",
            f"offset {reason}",
            [{"field": "offset", "reason": reason}],
        )
    return query.limit, query.offset


def _answer(
    conn, recommender: Recommender, answer: Answer, limit: int, offset: int, surface=None, **ids
):
    """The answer, with a new ``rec_id``, each item its ``position``, and the listener's
    experiment arm (or null); recorded as an impression (recsys.impressions) on the way
    out, never waited for. ``surface`` names one other than home or up_next (radio)."""
    kind = surface or ("next" if "song_id" in ids else "home")
    metrics.RECOMMENDATIONS.labels(kind, answer.mode, str(bool(answer.degraded)).lower()).inc()
    items = recommender.page(conn, answer, limit, offset)
    rec_id = new_event_id()
    for item in items:
        item["position"] = item["rank"]
    assigned = answer.experiment
    resources().impression_log.record(
        impressions.impression(
            rec_id,
            ids["user_id"],
            surface or ("up_next" if kind == "next" else "home"),
            ids.get("song_id"),
            answer.model_version,
            answer.mode,
            [item["song_id"] for item in items],
            offset,
            int(time.time() * 1000),
            experiment=assigned.experiment if assigned else None,
            experiment_arm=assigned.arm.name if assigned else None,
        )
    )
    return jsonify(
        {
            "rec_id": rec_id,
            **ids,
            "mode": answer.mode,
            "degraded": answer.degraded,
            "model_version": answer.model_version,
            "experiment": assigned.as_answer() if assigned else None,
            "limit": limit,
            "offset": offset,
            "items": items,
        }
    )


@api.get("/recs/<user_id>")
@limited("recs")
@acts_for("user_id", "recs:read:any")
@operation(
    "Home page recommendations from the session vector (0.7 long-term + 0.3 short-term).",
    path=UserPath,
    query=Page,
    answers={
        200: ("A page of recommendations; pages never overlap.", Recommendations),
        404: "No such user.",
        429: RATE_LIMITED,
    },
    description="offset is at most RECSYS_RECS_CANDIDATE_POOL. In a running experiment of the"
    " home surface the listener's arm may serve another model version, another long-term"
    " weight or random songs (docs/serving.md#experiments).",
)
def home_recommendations(user_id: str, query: Page):
    limit, offset = _page(query)
    recommender = resources().recommender
    with resources().pool.connection() as conn:
        try:
            answer = recommender.home(conn, user_id)
        except UnknownUser:
            raise not_found("user", "user_id", user_id) from None
        return _answer(conn, recommender, answer, limit, offset, user_id=user_id)


@api.get("/recs/<user_id>/<song_id>")
@limited("recs")
@acts_for("user_id", "recs:read:any")
@operation(
    "Next songs after song_id (0.6 ALS + 0.4 lyrics similarity).",
    path=UserSongPath,
    query=Page,
    answers={
        200: ("A page of next songs.", Recommendations),
        404: "No such user or song.",
        429: RATE_LIMITED,
    },
    description="offset is at most RECSYS_RECS_CANDIDATE_POOL. In a running experiment of the"
    " up_next surface the listener's arm may serve another ALS weight or random songs"
    " (docs/serving.md#experiments).",
)
def next_song_recommendations(user_id: str, song_id: str, query: Page):
    limit, offset = _page(query)
    recommender = resources().recommender
    with resources().pool.connection() as conn:
        try:
            answer = recommender.next_songs(conn, user_id, song_id)
        except UnknownUser:
            raise not_found("user", "user_id", user_id) from None
        except UnknownSong:
            raise not_found("song", "song_id", song_id) from None
        body = _answer(conn, recommender, answer, limit, offset, user_id=user_id, song_id=song_id)
    return body
