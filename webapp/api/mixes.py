"""GET /api/v1/users/<user_id>/mixes: a listener's nightly mixes (docs/mixes.md)."""

from __future__ import annotations

from flask import jsonify

from webapp.api import api
from webapp.api.answers import ListenerMixes
from webapp.api.auth import acts_for
from webapp.api.params import operation
from webapp.api.recs import UserPath
from webapp.errors import not_found
from webapp.resources import resources
from webapp.services import mixes


@api.get("/users/<user_id>/mixes")
@acts_for("user_id", "recs:read:any")
@operation(
    "A listener's mixes of the night: a daily mix per taste cluster and a discovery mix,"
    " each with its songs in play order, a title and cover images.",
    path=UserPath,
    answers={200: ("The served day's mixes (none yet: no items).", ListenerMixes),
             404: "No such user."},
)  # fmt: skip
def listener_mixes(user_id: str):
    with resources().pool.connection() as conn:
        found = mixes.listener_mixes(conn, user_id)
    if found is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(found)
