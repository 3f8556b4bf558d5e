"""The JSON API, version 1: one blueprint, a module per resource."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

from webapp.api import (  # noqa: E402,F401  (registers routes on the blueprint)
    admin,
    admin_catalog,
    audit,
    catalog,
    events,
    experiments,
    feedback,
    mixes,
    openapi,
    playlists,
    recs,
    signin,
    similar,
    trending,
)
