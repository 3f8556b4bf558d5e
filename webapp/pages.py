"""The HTML pages: the listener's home with its player (``/``) and the admin page
(``/admin``). They are shells: the browser fills them from the JSON API with the scripts in
``webapp/static/js``, so the pages get only the settings those scripts need."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from webapp.health import OPEN_WARNING

pages = Blueprint("pages", __name__)


@pages.context_processor
def identity_mode():
    """Every page says loudly when listeners need not prove who they are."""
    return {"auth_mode": current_app.config["RECSYS"].auth_mode, "open_warning": OPEN_WARNING}


@pages.get("/")
def home():
    settings = current_app.config["RECSYS"]
    return render_template(
        "home.html",
        player_clock_speed=settings.player_clock_speed,
        play_min_seconds=settings.play_min_seconds,
    )


@pages.get("/admin")
def admin():
    return render_template("admin.html")
