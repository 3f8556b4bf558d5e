"""Who may call a view, said where the view is declared.

Listener endpoints (``RECSYS_AUTH_MODE=token``, the default) need a bearer token, in the
``Authorization`` header or in the player's HttpOnly cookie, that recsys.identity verifies:

- ``@acts_for("user_id", scope)``: the view acts as the listener its ``user_id`` path
  parameter names; a listener's token passes for itself only, a service's token with
  ``scope`` for anyone. Views that learn the listener from the body call
  ``require_acting_for``.
- ``may_act_for(user_id, scope)``: the same question, answered without raising.
- ``caller()``: the request's Principal (ANYONE in open mode).

Admin endpoints take an admin token (``RECSYS_ADMIN_TOKEN``, ``RECSYS_ADMIN_TOKENS``) or a
JWT with a role: ``@admin_required`` the admin role, ``@operator_allowed`` the operator
role too (reads). ``g.admin`` names the caller for the audit trail.

Who the request is from is webapp.identity's. 403 says what the caller may not do. The
OpenAPI document marks each kind of view.
"""

from __future__ import annotations

import functools
import hmac

from flask import current_app, g, request

from recsys.identity.principal import ROLES, Principal
from webapp.errors import ApiError
from webapp.identity import COOKIE, bearer_token, caller, forbidden, known_caller, verify

__all__ = [
    "COOKIE",
    "acts_for",
    "admin_required",
    "caller",
    "known_caller",
    "listener_required",
    "may_act_for",
    "operator_allowed",
    "require_acting_for",
    "require_scope",
]

# The answers each kind of guarded view adds to its own (OpenAPI).
LISTENER_ANSWERS = {
    401: "No bearer token, or one that failed a check (the answer's `check` names it).",
    403: "The token may not act for this listener.",
}
ADMIN_ANSWERS = {
    401: "No bearer token, or a JWT that failed a check.",
    403: "The admin token is wrong, or its role may not do this.",
    503: "No admin token is configured on the server.",
}


def may_act_for(user_id: str, scope: str) -> bool:
    return caller().may_act_for(user_id, scope)


def require_acting_for(user_id: str, scope: str, field: str = "user_id") -> None:
    """403 unless the caller may act as ``user_id`` (``field`` names where it was given)."""
    who = caller()
    if not who.may_act_for(user_id, scope):
        if who.kind == "listener":
            message = f"the token is listener {who.subject!r}'s: it may act only for them"
        else:
            message = f"the token has no {scope!r} scope to act for listener {user_id!r}"
        raise forbidden(message, field, "not the signed-in listener")


def require_scope(scope: str) -> None:
    """403 unless the caller holds ``scope`` (anyone does in open mode)."""
    who = caller()
    if who.kind != "anyone" and scope not in who.scopes:
        raise forbidden(
            f"this needs a service token with the {scope!r} scope", "Authorization", "no scope"
        )


def acts_for(param: str = "user_id", scope: str = "users:read:any"):
    """Decorate a view (below its route, above ``@operation``): it runs only for a caller
    who may act as the listener its ``param`` path parameter names."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            require_acting_for(kwargs[param], scope, param)
            return view(*args, **kwargs)

        guarded.listener_required = scope
        return guarded

    return decorate


def listener_required(view):
    """Decorate a view that needs a signed-in caller (any kind) in token mode."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        caller()
        return view(*args, **kwargs)

    guarded.listener_required = "signed in"
    return guarded


# --- admins ---------------------------------------------------------------------------------


def admin_tokens(settings) -> list[tuple[str, str, str]]:
    """(name, role, token) of every configured admin token; ValueError naming the entry
    (by position, never quoting the token) when RECSYS_ADMIN_TOKENS is malformed."""
    found = [("admin", "admin", settings.admin_token)] if settings.admin_token else []
    entries = [e.strip() for e in settings.admin_tokens.split(",") if e.strip()]
    for position, entry in enumerate(entries, 1):
        name, _, rest = entry.partition(":")
        role, _, token = rest.partition(":")
        if not name or role not in ROLES or len(token) < 16:
            raise ValueError(
                f"RECSYS_ADMIN_TOKENS entry {position} must be name:role:token with role one of"
                f" {', '.join(ROLES)} and a token of 16 characters or more"
            )
        found.append((name, role, token))
    return found


def _admin(role: str) -> Principal:
    settings = current_app.config["RECSYS"]
    static = admin_tokens(settings)
    if not static and not settings.auth_secret and not settings.auth_jwks_url:
        raise ApiError(503, "admin_disabled", "no admin token is configured on the server")
    token = bearer_token()
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "admin endpoints need the header Authorization: Bearer <admin token>",
            [{"field": "Authorization", "reason": "missing bearer token"}],
        )
    who = None
    for name, token_role, expected in static:
        if hmac.compare_digest(token.encode(), expected.encode()):
            who = Principal(name, "admin", "admin_token", role=token_role)
    if who is None and token.count(".") == 2:
        who = verify(token)
        if who.role is None:
            raise forbidden("the token has no admin or operator role", "Authorization", "no role")
    if who is None:
        raise forbidden("the admin token is wrong", "Authorization", "wrong token")
    if not who.has_role(role):
        raise forbidden(
            f"the {who.role} role may read but not change anything; this needs the {role} role",
            "Authorization",
            f"needs the {role} role",
        )
    g.principal = who
    g.admin = f"{who.audit_name}@{request.remote_addr or '-'}"
    return who


def _role_required(role: str):
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            _admin(role)
            return view(*args, **kwargs)

        guarded.admin_required = role
        return guarded

    return decorate


# Changes (retrain, embed, activate, takedown, experiments): the admin role.
admin_required = _role_required("admin")
# Reads (runs, models, status, metrics, audit): the operator role too.
operator_allowed = _role_required("operator")
