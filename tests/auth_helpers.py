"""Bearer tokens for tests, issued with the test stack's own secret (recsys.identity)."""

from __future__ import annotations

from flask.testing import FlaskClient

from recsys.identity.principal import SCOPES
from recsys.identity.tokens import TokenConfig, TokenIssuer


def issuer(settings) -> TokenIssuer:
    return TokenIssuer(TokenConfig.from_settings(settings))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def listener_headers(settings, user_id: str) -> dict[str, str]:
    """The header a signed-in listener sends."""
    return bearer(issuer(settings).listener(user_id))


def service_headers(settings, *scopes: str, name: str = "tests") -> dict[str, str]:
    """A service's header with ``scopes`` (default: every scope)."""
    return bearer(issuer(settings).service(name, list(scopes or SCOPES)))


class ServiceClient(FlaskClient):
    """Every test's Flask client (tests/conftest.py makes it the app's ``test_client``): in
    token mode a request to a listener endpoint that brings no Authorization header carries
    a service token with every scope, so the suites of what the endpoints do run through
    token verification. What identity allows and refuses is tested with plain FlaskClients
    (tests/webapp/test_identity_api.py)."""

    _authorization: str | None = None

    def open(self, *args, **kwargs):
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "")
        settings = self.application.config["RECSYS"]
        listener_path = not path.startswith(("/api/v1/admin", "/api/v1/auth"))
        headers = dict(kwargs.pop("headers", None) or {})
        if settings.auth_mode == "token" and listener_path and "Authorization" not in headers:
            if self._authorization is None:
                self._authorization = service_headers(settings)["Authorization"]
            headers["Authorization"] = self._authorization
        return super().open(*args, headers=headers, **kwargs)
