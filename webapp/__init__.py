"""The Flask web app: event capture API and health check (recommendations, player and admin
arrive with later blueprints). ``create_app`` builds it from Settings; nothing connects until
a request needs it."""

from __future__ import annotations

from flask import Flask

from recsys.settings import Settings, load_settings, require


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    require(settings, "postgres_password")
    app = Flask(__name__)
    app.config["RECSYS"] = settings
    # Bound what a client can make us parse: a full batch of long events fits well inside.
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    app.json.sort_keys = False

    from webapp import resources
    from webapp.api import api
    from webapp.errors import register_error_handlers
    from webapp.health import health

    resources.init_app(app, settings)
    register_error_handlers(app)
    app.register_blueprint(api)
    app.register_blueprint(health)
    return app
