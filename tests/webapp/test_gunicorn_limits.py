"""Over-long requests against the real gunicorn: the app's JSON error shape, never gunicorn's
HTML page, whether the app refuses the URL (over webapp.MAX_URL_LENGTH) or gunicorn does (a
request line over its maximum, a header field over its limit)."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from webapp import MAX_URL_LENGTH

pytestmark = pytest.mark.integration


def long_query(length: int) -> str:
    """A trending URL exactly ``length`` characters long (path and query)."""
    path = "/api/v1/trending?limit=5&pad="
    return path + "x" * (length - len(path))


def test_a_url_at_the_limit_is_answered(webapp_server):
    answer = requests.get(webapp_server.webapp_url + long_query(MAX_URL_LENGTH), timeout=10)
    assert answer.status_code != 414


def test_a_url_over_the_limit_gets_414_json_naming_the_url(webapp_server):
    answer = requests.get(webapp_server.webapp_url + long_query(MAX_URL_LENGTH + 1), timeout=10)
    assert answer.status_code == 414
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["error"] == "uri_too_long" and str(MAX_URL_LENGTH) in body["message"]
    assert body["errors"] == [
        {"field": "url", "reason": f"must be at most {MAX_URL_LENGTH} characters"}
    ]


def raw_answer(settings, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; the status, headers and body gunicorn answered."""
    with socket.create_connection((settings.webapp_host, settings.webapp_port), 10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def test_a_request_line_gunicorn_refuses_still_gets_the_json_shape(webapp_server):
    target = long_query(20_000)
    status, headers, body = raw_answer(
        webapp_server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert status == 414 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["error"] == "uri_too_long" and answer["message"]
    assert answer["errors"][0]["field"] == "url"


def test_an_oversized_header_gets_the_json_shape(webapp_server):
    status, headers, body = raw_answer(
        webapp_server,
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {'y' * 20_000}\r\n\r\n".encode(),
    )
    assert status == 431 and headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["error"] == "request_header_fields_too_large"
    assert answer["errors"][0]["field"] == "headers"
