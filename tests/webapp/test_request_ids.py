"""Request ids against the real gunicorn: every answer has one, a sane one the client sent is
kept, a hostile one replaced; error bodies quote it; and the request's JSON access line in
the service's log (``<state>/logs/webapp.log``) names it with the route, never the query."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
import uuid

import pytest
import requests

from recsysctl.stack import webapp
from recsysctl.stack.isolated import free_port_pair
from recsysctl.stack.process import log_path
from webapp import create_app
from webapp.logs import RequestIdFilter, json_formatter
from webapp.security import REQUEST_ID_MAX, request_id_from

HOSTILE = {
    "too long": "a" * (REQUEST_ID_MAX + 1),
    "control characters": "abc\x1b[2Jdef",
    "a log line of its own": 'x" "level": "ERROR',
    "spaces": "two words",
}


def test_a_sane_id_is_kept():
    assert request_id_from("req-42.a:b_C") == "req-42.a:b_C"
    assert request_id_from("a" * REQUEST_ID_MAX) == "a" * REQUEST_ID_MAX


@pytest.mark.parametrize("value", [None, "", *HOSTILE.values()], ids=["none", "empty", *HOSTILE])
def test_a_missing_or_hostile_id_is_replaced(value):
    made = request_id_from(value)
    assert made != value and uuid.UUID(made)


@pytest.mark.integration
def test_every_answer_has_a_request_id(webapp_server):
    ids = set()
    for path in ["/", "/static/style.css", "/api/v1/genres", "/api/v1/no-such", "/healthz"]:
        answer = requests.get(webapp_server.webapp_url + path, timeout=10)
        ids.add(answer.headers["X-Request-ID"])
    assert len(ids) == 5 and all(uuid.UUID(i) for i in ids)


@pytest.mark.integration
def test_the_clients_id_is_echoed_in_the_header_and_the_error(webapp_server):
    sent = f"client-{uuid.uuid4()}"
    answer = requests.get(
        f"{webapp_server.webapp_url}/api/v1/songs/no-such-song",
        headers={"X-Request-ID": sent},
        timeout=10,
    )
    assert answer.status_code == 404
    assert answer.headers["X-Request-ID"] == sent
    assert answer.json()["request_id"] == sent


@pytest.mark.integration
@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE)
def test_a_hostile_id_is_replaced(webapp_server, value):
    answer = requests.get(
        f"{webapp_server.webapp_url}/api/v1/no-such", headers={"X-Request-ID": value}, timeout=10
    )
    answered = answer.headers["X-Request-ID"]
    assert answered != value and uuid.UUID(answered)
    assert answer.json()["request_id"] == answered


@pytest.fixture(scope="module")
def logged_server(webapp_server, tmp_path_factory):
    """A second gunicorn of the stack with its access log on (off by default), in its own
    state folder, so its log holds only these tests' requests."""
    settings = dataclasses.replace(
        webapp_server,
        state_dir=str(tmp_path_factory.mktemp("logged-webapp")),
        webapp_port=free_port_pair(),
        webapp_workers=1,
        webapp_access_log="-",
    )
    webapp.start(settings)
    yield settings
    webapp.stop(settings)


def json_lines(settings) -> list[dict]:
    """Every line of the service's log, each of which must be a JSON object."""
    text = log_path(settings.state_dir, webapp.NAME).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_for_line(settings, matches, timeout_s: float = 10) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [line for line in json_lines(settings) if matches(line)]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no such log line in {json_lines(settings)[-5:]}")
        time.sleep(0.2)


@pytest.mark.integration
def test_the_request_id_is_in_the_requests_json_access_line(logged_server):
    sent = f"trace-{uuid.uuid4()}"
    answer = requests.get(
        f"{logged_server.webapp_url}/api/v1/recs/no-such-user?limit=3&token=s3cret",
        headers={"X-Request-ID": sent, "Authorization": "Bearer s3cret.bearer.token"},
        timeout=10,
    )
    line = wait_for_line(logged_server, lambda line: line.get("request_id") == sent)
    assert "s3cret.bearer" not in json.dumps(json_lines(logged_server))
    assert line["logger"] == "gunicorn.access" and line["level"] == "INFO"
    assert line["method"] == "GET" and line["path"] == "/api/v1/recs/<user_id>"
    assert line["status"] == answer.status_code
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00") and line["message"]
    assert "s3cret" not in json.dumps(line) and "no-such-user" not in json.dumps(line)


@pytest.mark.integration
def test_gunicorns_own_lines_are_json_too(logged_server):
    requests.get(f"{logged_server.webapp_url}/healthz", timeout=10)
    lines = json_lines(logged_server)  # fails on any line that is not JSON
    started = [line for line in lines if line["logger"] == "gunicorn.error"]
    assert any("Listening at" in line["message"] for line in started), started
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_app_lines_written_in_a_request_name_its_id(settings):
    """The app's loggers through the formatter and filter gunicorn's handlers get."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    log = logging.getLogger("webapp.test_request_ids")
    log.addHandler(handler)
    log.propagate = False
    app = create_app(settings)
    try:
        with app.test_request_context("/api/v1/genres", headers={"X-Request-ID": "abc-1"}):
            app.preprocess_request()
            log.warning("inside %s", "a request")
        log.warning("outside")
    finally:
        log.removeHandler(handler)
        app.extensions["recsys"].close()
    inside, outside = (json.loads(line) for line in written.getvalue().splitlines())
    assert inside["request_id"] == "abc-1" and inside["message"] == "inside a request"
    assert inside["level"] == "WARNING" and inside["logger"] == "webapp.test_request_ids"
    assert "request_id" not in outside
