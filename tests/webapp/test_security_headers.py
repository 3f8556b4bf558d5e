"""Security headers on every answer of the real gunicorn (pages, static files, API answers
and errors), and CORS only for the origins RECSYS_CORS_ORIGINS lists."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from recsys.settings import SettingsError
from webapp import create_app
from webapp.security import cors_origins

ALLOWED = "https://player.example.org"
OTHER = "https://evil.example.net"
PATHS = ["/", "/admin", "/static/js/api.js", "/api/v1/genres", "/api/v1/no-such", "/healthz"]


@pytest.mark.integration
@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(webapp_server, path):
    answer = requests.get(webapp_server.webapp_url + path, timeout=10)
    csp = answer.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.fixture(scope="module")
def cors_client(settings):
    """The app allowing one origin; these requests need no service."""
    app = create_app(
        dataclasses.replace(settings, cors_origins=f"{ALLOWED}, http://localhost:3000")
    )
    yield app.test_client()
    app.extensions["recsys"].close()


def test_a_listed_origin_may_read_api_answers(cors_client):
    answer = cors_client.get("/api/v1/openapi.json", headers={"Origin": ALLOWED})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]
    assert "Origin" in answer.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in answer.headers


def test_another_origin_gets_no_cors_header(cors_client):
    answer = cors_client.get("/api/v1/openapi.json", headers={"Origin": OTHER})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_a_listed_origins_preflight_is_answered(cors_client):
    answer = cors_client.options(
        "/api/v1/logs/events",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-request-id",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "x-request-id" in allowed


def test_another_origins_preflight_is_not(cors_client):
    answer = cors_client.options(
        "/api/v1/logs/events",
        headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_pages_are_never_shared_across_origins(cors_client):
    answer = cors_client.get("/admin", headers={"Origin": ALLOWED})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_without_origins_no_cors_header_is_sent(settings):
    app = create_app(dataclasses.replace(settings, cors_origins=""))
    answer = app.test_client().get("/api/v1/openapi.json", headers={"Origin": ALLOWED})
    app.extensions["recsys"].close()
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("value", ["*", "https://*.example.org", "example.org", "https://a b"])
def test_an_origin_that_is_not_exact_is_refused(settings, value):
    with pytest.raises(SettingsError, match="RECSYS_CORS_ORIGINS"):
        cors_origins(dataclasses.replace(settings, cors_origins=value))


def test_origins_are_read_trimmed(settings):
    listed = dataclasses.replace(settings, cors_origins=" https://a.example/ ,http://b:8080,")
    assert cors_origins(listed) == ["https://a.example", "http://b:8080"]
