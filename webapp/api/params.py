"""Query-string parameters, checked with errors that name the parameter."""

from __future__ import annotations

from flask import request

from webapp.errors import ApiError


def int_param(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise ApiError(
            400,
            "invalid_parameter",
            f"{name} must be an integer in [{minimum}, {maximum}]",
            [{"field": name, "reason": f"must be an integer from {minimum} to {maximum}"}],
        )
    return value


def required_param(name: str) -> str:
    value = request.args.get(name, "").strip()
    if not value:
        raise ApiError(
            400,
            "missing_parameter",
            f"{name} is required",
            [{"field": name, "reason": "missing parameter"}],
        )
    return value


def page() -> tuple[int, int]:
    """(limit, offset) of a paginated list: limit 1-100 (20), offset from 0."""
    return int_param("limit", 20, 1, 100), int_param("offset", 0, 0, 1_000_000)


def json_body():
    """The request's JSON body: 415 unless sent as application/json, 400 when malformed."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "the body is not valid JSON")
    return body
