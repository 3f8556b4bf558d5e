"""Declared inputs of the API: each route states its path parameters, query string and JSON
body as pydantic models with ``@operation``, which checks them (4xx errors that name the
field, in the shape of webapp.errors) and keeps them for the OpenAPI document
(webapp.api.openapi). Every string is ``Text``: what PostgreSQL can store.

Path and query parameters that break their declaration answer 400; a JSON body that does
answers its route's ``Invalid`` (422 unless declared otherwise); a body that is not JSON
answers 415, malformed JSON 400.

Example
-------
>>> class Page(BaseModel):
...     limit: int_param(1, 100, 20)
>>> class SongPath(BaseModel):
...     song_id: Text
>>> @api.get("/songs/<song_id>/plays")
... @operation("A song's plays.", path=SongPath, query=Page, answers={200: "A page."})
... def plays(song_id: str, query: Page): ...
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Annotated, Any

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from recsys.events import Text, field_errors
from webapp.errors import ApiError

__all__ = ["Body", "Invalid", "Page", "Text", "json_body", "operation", "int_param", "validated"]


class Body(BaseModel):
    """A JSON body: a field nobody declared is an error, like a missing one."""

    model_config = ConfigDict(extra="forbid")


def int_param(minimum: int, maximum: int, default: int | None = None):
    """An integer parameter in [minimum, maximum], read as ``int()`` reads it."""
    reason = f"must be an integer from {minimum} to {maximum}"

    def parse(raw):
        if isinstance(raw, str):
            try:
                raw = int(raw)
            except ValueError:
                raise PydanticCustomError("int_range", reason) from None
        if isinstance(raw, int) and not isinstance(raw, bool) and minimum <= raw <= maximum:
            return raw
        raise PydanticCustomError("int_range", reason)

    return Annotated[int, Field(default, ge=minimum, le=maximum), BeforeValidator(parse)]


class Page(BaseModel):
    """A page of a list: ``limit`` items from ``offset``."""

    limit: int_param(1, 100, 20)
    offset: int_param(0, 1_000_000, 0)


@dataclass(frozen=True)
class Invalid:
    """How a body that breaks its declaration is answered."""

    status: int = 422
    error: str = "invalid_body"
    message: str = "the body was not accepted"
    whole: str = "body"  # the field named when the body itself is wrong (not an object)


@dataclass(frozen=True)
class Operation:
    """What one route declares; webapp.api.openapi builds the document from it."""

    summary: str
    answers: dict[int, Any]
    path: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    check_body: bool = True
    invalid: Invalid = field(default_factory=Invalid)
    description: str | None = None


def validated(model: type[BaseModel], data, invalid: Invalid):
    """``data`` as ``model``, or an ApiError naming every field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = field_errors(err, invalid.whole, getattr(model, "WORDING", None))
        raise ApiError(
            invalid.status, invalid.error, invalid.message, [e.as_dict() for e in errors]
        ) from None


MISSING = "missing parameter"
# The answer of a route over its client's rate limit (see webapp.api.openapi for its header).
RATE_LIMITED = (
    "Over this client's rate limit (RECSYS_RATE_LIMIT_*); retry after Retry-After seconds."
)


def _parameters(model: type[BaseModel], values: dict) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        errors = [
            {"field": e.field, "reason": MISSING if e.reason == "missing field" else e.reason}
            for e in field_errors(err, "parameters")
        ]
    missing = all(e["reason"] == MISSING for e in errors)
    raise ApiError(
        400,
        "missing_parameter" if missing else "invalid_parameter",
        "; ".join(
            f"{e['field']} is required" if missing else f"{e['field']} {e['reason']}"
            for e in errors
        ),
        errors,
    )


def _query() -> dict[str, str]:
    """The query string, the first value of each name; a blank value is an absent one."""
    return {name: value for name, value in request.args.items() if value.strip()}


def json_body():
    """The request's JSON body: 415 unless sent as application/json, 400 when malformed."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the body is not valid JSON")
    return body


def operation(
    summary: str,
    *,
    answers: dict[int, Any],
    path: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    check_body: bool = True,
    invalid: Invalid | None = None,
    description: str | None = None,
):
    """Declare a view's inputs and answers, and check the inputs before it runs.

    The view gets its path parameters as ``path`` declares them (same names), the query as
    ``query=`` (an instance of ``query``) and the body as ``body=``: an instance of
    ``body``, or with ``check_body=False`` the parsed JSON, which the view checks itself
    (``body`` then only documents it). ``answers`` maps a status to its description, or to
    ``(description, model)`` for a JSON answer; the errors that the inputs can cause are
    added to the document by webapp.api.openapi.
    """
    declared = Operation(
        summary, answers, path, query, body, check_body, invalid or Invalid(), description
    )

    def decorate(view):
        @functools.wraps(view)
        def checked(**kwargs):
            if path is not None:
                kwargs.update(_parameters(path, kwargs).__dict__)
            if query is not None:
                kwargs["query"] = _parameters(query, _query())
            if body is not None:
                raw = json_body()
                kwargs["body"] = validated(body, raw, declared.invalid) if check_body else raw
            return view(**kwargs)

        checked.operation = declared
        return checked

    return decorate
