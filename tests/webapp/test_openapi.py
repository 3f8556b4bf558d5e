"""The OpenAPI description matches the routes the app really has."""

from __future__ import annotations

import re

import pytest

from webapp.api.openapi import spec

pytestmark = pytest.mark.integration


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_route_is_documented_and_nothing_else(client):
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    body = served.json
    assert body["openapi"].startswith("3.1")
    documented = {(p, m) for p, ops in body["paths"].items() for m in ops}
    assert documented == routes(client.application)


def test_every_reference_resolves():
    document = spec()
    refs = set(re.findall(r"'\$ref': '#/([^']+)'", str(document)))
    assert refs
    for ref in refs:
        node = document
        for part in ref.split("/"):
            node = node[part]
        assert node
