"""Songs, artists and listeners: GET /search, /songs/<id>, /genres; GET and POST /users,
GET /users/<id>, PUT /users/<id>/genres (onboarding)."""

from __future__ import annotations

from typing import Annotated

from flask import current_app, jsonify
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from recsys.events import not_blank
from webapp.api import api
from webapp.api.answers import SearchAnswer, Song, User, Users
from webapp.api.auth import acts_for, listener_required, require_scope
from webapp.api.params import Body, Invalid, Page, Text, int_param, operation, validated
from webapp.errors import ApiError, not_found
from webapp.resources import resources
from webapp.services import catalog

MAX_QUERY = 100
MAX_NAME = 100
MAX_GENRES = 20

INVALID_USER = Invalid(422, "invalid_user", "the listener was not saved")
Genres = Annotated[
    list[Text], Field(max_length=MAX_GENRES, description="Genre names from GET /genres.")
]


class SearchQuery(BaseModel):
    q: Annotated[Text, StringConstraints(strip_whitespace=True, max_length=MAX_QUERY)]
    limit: int_param(1, 50, 10)


class SongPath(BaseModel):
    song_id: Text


class UserPath(BaseModel):
    user_id: Text


class NewListener(Body):
    display_name: Annotated[Text, StringConstraints(max_length=MAX_NAME), AfterValidator(not_blank)]
    onboarding_genres: Genres = []


class GenresChange(Body):
    onboarding_genres: Genres


@api.get("/search")
@operation(
    "Songs and artists by title or name, typo-tolerant.",
    query=SearchQuery,
    answers={200: ("Matches, best first.", SearchAnswer)},
)
def search(query: SearchQuery):
    with resources().pool.connection() as conn:
        return jsonify(catalog.search(conn, query.q, query.limit))


@api.get("/songs/<song_id>")
@operation("One song.", path=SongPath, answers={200: ("The song.", Song), 404: "No such song."})
def get_song(song_id: str):
    with resources().pool.connection() as conn:
        found = catalog.song(conn, song_id)
    if found is None:
        raise not_found("song", "song_id", song_id)
    return jsonify(found)


@api.get("/genres")
@operation("The genres of the catalog (onboarding choices).", answers={200: "{items: [genre]}"})
def list_genres():
    with resources().pool.connection() as conn:
        return jsonify({"items": catalog.genres(conn)})


@api.get("/users")
@operation(
    "Listeners, for the player's demo sign-in picker.",
    query=Page,
    answers={
        200: ("A page of listeners.", Users),
        401: "Token mode without demo sign-in, and no bearer token.",
        403: "Token mode without demo sign-in, and a token without the users:read:any scope.",
    },
    description="Open to anyone while RECSYS_AUTH_DEMO_SIGNIN is on (or in open mode);"
    " otherwise a service token with the users:read:any scope.",
)
def list_users(query: Page):
    if not current_app.config["RECSYS"].auth_demo_signin:
        require_scope("users:read:any")
    with resources().pool.connection() as conn:
        return jsonify(catalog.users(conn, query.limit, query.offset))


@api.get("/users/<user_id>")
@acts_for("user_id", "users:read:any")
@operation(
    "One listener.", path=UserPath, answers={200: ("The listener.", User), 404: "No such user."}
)
def get_user(user_id: str):
    with resources().pool.connection() as conn:
        found = catalog.user(conn, user_id)
    if found is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(found)


def known_genres(conn, chosen: list[str]) -> list[str]:
    """The chosen genres once each, in order; 422 naming any the catalog does not have."""
    unknown = sorted(set(chosen) - set(catalog.genres(conn)))
    if unknown:
        raise ApiError(
            INVALID_USER.status,
            INVALID_USER.error,
            INVALID_USER.message,
            [{"field": "onboarding_genres", "reason": f"unknown genres: {', '.join(unknown)}"}],
        )
    return list(dict.fromkeys(chosen))


@api.post("/users")
@listener_required
@operation(
    "A new listener, with the genres chosen at onboarding.",
    body=NewListener,
    invalid=INVALID_USER,
    answers={201: ("Created.", User)},
)
def create_user(body: NewListener):
    require_scope("users:write:any")  # listeners sign up at POST /auth/signup
    with resources().pool.connection() as conn:
        genres = known_genres(conn, body.onboarding_genres)
        created = catalog.create_user(conn, body.display_name.strip(), genres)
    return jsonify(created), 201


@api.put("/users/<user_id>/genres")
@acts_for("user_id", "users:write:any")
@operation(
    "Change a listener's onboarding genres.",
    path=UserPath,
    body=GenresChange,
    check_body=False,  # an unknown listener is 404 whatever the body
    invalid=INVALID_USER,
    answers={200: ("The listener, updated.", User), 404: "No such user."},
)
def set_user_genres(user_id: str, body):
    with resources().pool.connection() as conn:
        if catalog.user(conn, user_id) is None:
            raise not_found("user", "user_id", user_id)
        change = validated(GenresChange, body, INVALID_USER)
        genres = known_genres(conn, change.onboarding_genres)
        updated = catalog.set_genres(conn, user_id, genres)
    if updated is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(updated)
