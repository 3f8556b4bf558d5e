"""Who may call a view, said where the view is declared.

``@admin_required`` lets a request through only with ``Authorization: Bearer
<RECSYS_ADMIN_TOKEN>``: 401 without a bearer token, 403 with a wrong one, 503 when the
server has no admin token configured. The view's ``g.admin`` names the caller for audit
lines. The OpenAPI document marks such views with the bearer scheme and those answers.
"""

from __future__ import annotations

import functools
import hmac

from flask import current_app, g, request

from webapp.errors import ApiError

# The answers @admin_required adds to a view's own.
ADMIN_ANSWERS = {
    401: "No bearer token.",
    403: "The admin token is wrong.",
    503: "No admin token is configured on the server.",
}


def check_admin_token() -> None:
    expected = current_app.config["RECSYS"].admin_token
    if not expected:
        raise ApiError(503, "admin_disabled", "no admin token is configured on the server")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "unauthorized",
            "admin endpoints need the header Authorization: Bearer <admin token>",
            [{"field": "Authorization", "reason": "missing bearer token"}],
        )
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(
            403,
            "forbidden",
            "the admin token is wrong",
            [{"field": "Authorization", "reason": "wrong token"}],
        )
    g.admin = request.remote_addr or "admin"


def admin_required(view):
    """Decorate a view (above ``@operation``): it runs only for the admin token's bearer."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        check_admin_token()
        return view(*args, **kwargs)

    guarded.admin_required = True
    return guarded
