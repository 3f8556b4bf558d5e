"""GET /api/v1/users/<user_id>/likes and /dislikes: what a listener said about songs (their
like, unlike and dislike events; see webapp.services.feedback)."""

from __future__ import annotations

from flask import jsonify

from webapp.api import api
from webapp.api.answers import FeedbackSongs
from webapp.api.auth import acts_for
from webapp.api.params import Page, operation
from webapp.api.recs import UserPath
from webapp.errors import not_found
from webapp.resources import resources
from webapp.services import feedback


def _songs(user_id: str, kind: str, query: Page):
    with resources().pool.connection() as conn:
        found = feedback.listener_songs(conn, user_id, kind, query.limit, query.offset)
    if found is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(found)


@api.get("/users/<user_id>/likes")
@acts_for("user_id", "users:read:any")
@operation(
    "The songs a listener likes (the player's heart), newest first.",
    path=UserPath,
    query=Page,
    answers={200: ("A page of liked songs.", FeedbackSongs), 404: "No such user."},
)
def listener_likes(user_id: str, query: Page):
    return _songs(user_id, "like", query)


@api.get("/users/<user_id>/dislikes")
@acts_for("user_id", "users:read:any")
@operation(
    "The songs a listener disliked (never recommended to them again), newest first.",
    path=UserPath,
    query=Page,
    answers={200: ("A page of disliked songs.", FeedbackSongs), 404: "No such user."},
)
def listener_dislikes(user_id: str, query: Page):
    return _songs(user_id, "dislike", query)
