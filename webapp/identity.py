"""Who the request is from: its bearer token (the Authorization header, or the player's
HttpOnly cookie) verified by recsys.identity into a Principal, once per request.

``caller()`` raises the 401 (naming the failed check, never quoting the token) or, in open
mode (RECSYS_AUTH_MODE=open), answers ANYONE. The decorators that use it for views are
webapp.api.auth's; the rate limits (webapp.ratelimit) key on ``known_caller()``.

The cookie is sent by the browser on its own, so a request that is authenticated by it and
changes something must also carry the ``X-Musicrec-Request`` header: a page of another
origin cannot add it without a CORS preflight this app refuses (CORS_ORIGINS aside), and the
cookie is SameSite=Strict besides.
"""

from __future__ import annotations

from flask import current_app, g, request

from recsys.identity.principal import ANYONE, Principal
from recsys.identity.tokens import CHECKS, IdentityProviderUnavailable, TokenRejected
from webapp.errors import ApiError
from webapp.resources import resources

COOKIE = "musicrec_token"
CSRF_HEADER = "X-Musicrec-Request"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _unauthorized(check: str, detail: str | None = None) -> ApiError:
    detail = detail or CHECKS[check]
    error = "unauthorized" if check == "missing" else "invalid_token"
    return ApiError(
        401,
        error,
        f"{detail} (send Authorization: Bearer <token>; see docs/security.md)",
        [{"field": "Authorization", "reason": check}],
        headers={"WWW-Authenticate": f'Bearer error="{error}"'},
        extra={"check": check},
    )


def forbidden(message: str, field: str, reason: str) -> ApiError:
    return ApiError(403, "forbidden", message, [{"field": field, "reason": reason}])


def bearer_token() -> str | None:
    """The token of the Authorization header; None without one (401 for another scheme)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing", "the Authorization header is not 'Bearer <token>'")
    return token.strip()


def verify(token: str) -> Principal:
    try:
        return resources().verifier.verify(token)
    except TokenRejected as rejected:
        raise _unauthorized(rejected.check, rejected.detail) from None
    except IdentityProviderUnavailable:
        raise ApiError(
            503, "identity_provider_unavailable", "the identity provider's keys cannot be read"
        ) from None


def _resolve() -> Principal:
    if current_app.config["RECSYS"].auth_mode == "open":
        return ANYONE
    token = bearer_token()
    if token is None:
        token = request.cookies.get(COOKIE)
        if not token:
            raise _unauthorized("missing")
        if request.method not in SAFE_METHODS and not request.headers.get(CSRF_HEADER):
            raise forbidden(
                f"a request signed in by cookie must carry the {CSRF_HEADER} header",
                CSRF_HEADER,
                "missing (cross-site request refused)",
            )
    return verify(token)


def caller() -> Principal:
    """The request's caller, verified once per request; 401 without a good token."""
    if "principal" not in g:
        try:
            g.principal = _resolve()
        except ApiError as err:
            g.principal_error = err
            g.principal = None
    if g.principal is None:
        raise g.principal_error
    return g.principal


def known_caller() -> Principal | None:
    """The caller, or None when the request proves no one (rate limits key on it)."""
    try:
        return caller()
    except ApiError:
        return None
