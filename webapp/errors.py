"""One JSON shape for every error the API answers, HTTP or validation.

``{"error": <code>, "message": <sentence>, "errors": [{"field": ..., "reason": ...}],
"request_id": <the answer's X-Request-ID>}``

Validation errors come from the routes' declared models (webapp.api.params), raised as
ApiError; the OpenAPI document describes this shape as ``Error`` (webapp.api.answers).
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered to the client as JSON with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        body = {"error": self.error, "message": self.message, **self.extra}
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found(kind: str, field: str, value: str) -> ApiError:
    """404 for an id that names nothing: ``unknown_<kind>``, naming the field."""
    return ApiError(
        404,
        f"unknown_{kind}",
        f"no {kind} {value!r}",
        [{"field": field, "reason": f"unknown {kind}"}],
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return _answer(err.body()), err.status, err.headers

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        return _answer({"error": code, "message": err.description}), err.code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return _answer({"error": "internal_error", "message": "unexpected server error"}), 500


def _answer(body: dict):
    """The body with the request's id (webapp/security.py), so a client can quote it."""
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    return jsonify(body)
