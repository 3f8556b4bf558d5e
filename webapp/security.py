"""What every answer carries for its own safety: security headers, a request id, and CORS
headers for the origins RECSYS_CORS_ORIGINS lists.

- **Headers.** A Content-Security-Policy that lets pages run only the app's own scripts and
  styles (no inline code: the pages' scripts are ES modules in ``webapp/static/js``), loads
  songs' audio from anywhere over http(s), and forbids framing; ``X-Frame-Options`` says the
  same to older browsers; ``X-Content-Type-Options: nosniff``; a same-origin referrer.
- **Request id.** The client's ``X-Request-ID`` when it is a sane token (at most
  REQUEST_ID_MAX characters of letters, digits and ``._:-``), else a new one. It is answered
  in ``X-Request-ID``, in JSON error bodies (webapp/errors.py) and in every log line written
  while answering (webapp/logs.py).
- **CORS** (flask-cors) for ``/api/`` only and only for the listed origins: their pages may
  send the API's headers (``Authorization`` among them) and read ``X-Request-ID`` and
  ``Retry-After``. Without origins, no CORS header is ever sent: only the app's own pages
  may call the API from a browser.

Reads settings; writes headers, ``flask.g.request_id`` and the WSGI environ keys
webapp.logs reads for gunicorn's access line.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, g, request
from flask_cors import CORS

from recsys.settings import Settings, SettingsError
from webapp.logs import ENVIRON_REQUEST_ID, ENVIRON_ROUTE

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_MAX = 128
_SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{REQUEST_ID_MAX}}}")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the pages' empty favicon is a data: URL
        "media-src 'self' https: http:",  # a catalog's audio_url may be on any host
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def init_app(app: Flask, settings: Settings) -> None:
    """The request id is taken before any other hook runs, so even an answer refused early
    (a 414, a 429) carries it."""
    app.before_request_funcs.setdefault(None, []).insert(0, _take_request_id)
    app.after_request(_mark_answer)
    origins = cors_origins(settings)
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )


def cors_origins(settings: Settings) -> list[str]:
    """The listed origins; fails naming the variable for one that is not an exact origin
    (flask-cors would take ``*`` or a pattern as a regular expression)."""
    origins = [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"RECSYS_CORS_ORIGINS: {origin!r} is not an origin like https://host[:port]"
            )
    return origins


def request_id_from(header: str | None) -> str:
    """The client's id when it is a sane token, else a new one."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return g.get("request_id")


def _take_request_id() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request.environ[ENVIRON_REQUEST_ID] = g.request_id


def _mark_answer(response):
    response.headers.update(SECURITY_HEADERS)
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    if request.url_rule is not None:  # the route, never the query string, for the access log
        request.environ[ENVIRON_ROUTE] = request.url_rule.rule
    return response
