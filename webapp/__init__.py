"""The Flask web app: the JSON API (events, recommendations, catalog, trending, admin), the
player and admin pages, and the health check. ``create_app`` builds it from Settings; nothing
connects until a request needs it."""

from __future__ import annotations

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from recsys.settings import Settings, SettingsError, load_settings, require

# The longest URL (path and query) the app answers. gunicorn reads request lines up to twice
# this (webapp/gunicorn_conf.py), so a longer URL gets the API's 414, not gunicorn's page;
# 4,096 keeps every URL gunicorn's default line limit (4,094) let through.
MAX_URL_LENGTH = 4096


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON through orjson: the event endpoints parse and answer thousands of
    objects per request."""

    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, default=self.default).decode()

    def loads(self, s, **kwargs):
        return orjson.loads(s)


class WarehouseApp(Flask):
    json_provider_class = FastJSONProvider


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    require(settings, "postgres_password")
    _check_identity_settings(settings)
    app = WarehouseApp(__name__)
    app.config["RECSYS"] = settings
    # Bound what a client can make us parse: a full batch of long events fits well inside.
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    if settings.webapp_proxy_hops:  # the client's address is what the proxies saw
        hops = settings.webapp_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from webapp import metrics, resources, security
    from webapp.api import api
    from webapp.errors import register_error_handlers
    from webapp.health import health
    from webapp.metrics_endpoint import metrics as metrics_endpoint
    from webapp.pages import pages

    security.init_app(app, settings)
    resources.init_app(app, settings)
    metrics.init_app(app)
    app.before_request(_reject_long_url)
    register_error_handlers(app)
    app.register_blueprint(api)
    app.register_blueprint(metrics_endpoint)
    app.register_blueprint(health)
    app.register_blueprint(pages)
    return app


def _check_identity_settings(settings: Settings) -> None:
    """Fail at start, with the variable named, on identity settings that cannot work."""
    from webapp.api.auth import admin_tokens

    if settings.auth_mode not in ("token", "open"):
        raise SettingsError("RECSYS_AUTH_MODE must be token or open")
    if settings.auth_mode == "token" and not (settings.auth_secret or settings.auth_jwks_url):
        raise SettingsError(
            "RECSYS_AUTH_MODE=token needs RECSYS_AUTH_SECRET (run `make up` to generate .env)"
            " or RECSYS_AUTH_JWKS_URL"
        )
    if settings.auth_jwks_url and not settings.auth_jwks_issuer:
        raise SettingsError("RECSYS_AUTH_JWKS_URL needs RECSYS_AUTH_JWKS_ISSUER")
    try:
        admin_tokens(settings)
    except ValueError as err:
        raise SettingsError(str(err)) from None


def _reject_long_url() -> None:
    """414 in the API's error shape for a URL over MAX_URL_LENGTH characters."""
    from flask import request

    from webapp.errors import ApiError

    length = len(request.environ.get("RAW_URI") or request.full_path)
    if length > MAX_URL_LENGTH:
        raise ApiError(
            414,
            "uri_too_long",
            f"the URL is {length} characters long; at most {MAX_URL_LENGTH} are accepted",
            [{"field": "url", "reason": f"must be at most {MAX_URL_LENGTH} characters"}],
        )
