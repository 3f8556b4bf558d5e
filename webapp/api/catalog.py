"""Songs, artists and listeners: GET /search, /songs/<id>, /genres; GET and POST /users,
GET /users/<id>, PUT /users/<id>/genres (onboarding)."""

from __future__ import annotations

from flask import jsonify

from webapp.api import api
from webapp.api.params import int_param, json_body, page, required_param
from webapp.errors import ApiError, not_found
from webapp.resources import resources
from webapp.services import catalog

MAX_QUERY = 100
MAX_NAME = 100
MAX_GENRES = 20


@api.get("/search")
def search():
    q = required_param("q")
    if len(q) > MAX_QUERY:
        raise ApiError(
            400, "invalid_parameter", f"q is at most {MAX_QUERY} characters",
            [{"field": "q", "reason": f"at most {MAX_QUERY} characters"}],
        )  # fmt: skip
    limit = int_param("limit", 10, 1, 50)
    with resources().pool.connection() as conn:
        return jsonify(catalog.search(conn, q, limit))


@api.get("/songs/<song_id>")
def get_song(song_id: str):
    with resources().pool.connection() as conn:
        found = catalog.song(conn, song_id)
    if found is None:
        raise not_found("song", "song_id", song_id)
    return jsonify(found)


@api.get("/genres")
def list_genres():
    with resources().pool.connection() as conn:
        return jsonify({"items": catalog.genres(conn)})


@api.get("/users")
def list_users():
    limit, offset = page()
    with resources().pool.connection() as conn:
        return jsonify(catalog.users(conn, limit, offset))


@api.get("/users/<user_id>")
def get_user(user_id: str):
    with resources().pool.connection() as conn:
        found = catalog.user(conn, user_id)
    if found is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(found)


def _checked_genres(conn, body: dict, errors: list[dict]) -> list[str]:
    chosen = body.get("onboarding_genres", [])
    if not isinstance(chosen, list) or not all(isinstance(g, str) for g in chosen):
        errors.append({"field": "onboarding_genres", "reason": "must be a list of genre names"})
        return []
    if len(chosen) > MAX_GENRES:
        errors.append({"field": "onboarding_genres", "reason": f"at most {MAX_GENRES} genres"})
        return []
    unknown = sorted(set(chosen) - set(catalog.genres(conn)))
    if unknown:
        errors.append(
            {"field": "onboarding_genres", "reason": f"unknown genres: {', '.join(unknown)}"}
        )
    return list(dict.fromkeys(chosen))


def _invalid(errors: list[dict]) -> ApiError:
    return ApiError(422, "invalid_user", "the listener was not saved", errors)


@api.post("/users")
def create_user():
    body = json_body()
    if not isinstance(body, dict):
        raise _invalid([{"field": "body", "reason": "must be a JSON object"}])
    errors: list[dict] = []
    name = body.get("display_name")
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "display_name", "reason": "must be a non-empty string"})
    elif len(name) > MAX_NAME:
        errors.append({"field": "display_name", "reason": f"at most {MAX_NAME} characters"})
    with resources().pool.connection() as conn:
        genres = _checked_genres(conn, body, errors)
        if errors:
            raise _invalid(errors)
        created = catalog.create_user(conn, name.strip(), genres)
    return jsonify(created), 201


@api.put("/users/<user_id>/genres")
def set_user_genres(user_id: str):
    body = json_body()
    if not isinstance(body, dict):
        raise _invalid([{"field": "body", "reason": "must be a JSON object"}])
    errors: list[dict] = []
    with resources().pool.connection() as conn:
        genres = _checked_genres(conn, body, errors)
        if errors:
            raise _invalid(errors)
        updated = catalog.set_genres(conn, user_id, genres)
    if updated is None:
        raise not_found("user", "user_id", user_id)
    return jsonify(updated)
