"""The OpenAPI description matches the routes the app really has, is built from their
declarations, and every admin route carries @admin_required."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask
from pydantic import BaseModel

from webapp.api import api
from webapp.api.openapi import build, spec
from webapp.api.params import Text, operation


class ThingPath(BaseModel):
    thing_id: Text


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def blueprint_app() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(api)
    return app


@pytest.mark.integration
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


def test_every_api_route_declares_its_inputs():
    app = blueprint_app()
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in ("api.openapi", "static")
        and not hasattr(app.view_functions[rule.endpoint], "operation")
    ]
    assert undeclared == []


def sketch(with_undeclared_route: bool) -> Blueprint:
    blueprint = Blueprint("sketch", __name__, url_prefix="/api/v1")

    @blueprint.get("/declared/<thing_id>")
    @operation("A thing.", path=ThingPath, answers={200: "The thing."})
    def declared(thing_id: str):
        return thing_id

    if with_undeclared_route:

        @blueprint.get("/undeclared")
        def undeclared():
            return ""

    return blueprint


def test_a_route_without_a_declaration_fails_the_document():
    document = build(sketch(with_undeclared_route=False))
    (parameter,) = document["paths"]["/api/v1/declared/{thing_id}"]["get"]["parameters"]
    assert parameter["in"] == "path" and parameter["name"] == "thing_id"
    with pytest.raises(TypeError, match="undeclared"):
        build(sketch(with_undeclared_route=True))


# Routes that act for the listener they name, or need a signed-in caller (token mode).
LISTENER_ROUTES = re.compile(r"^/api/v1/(recs/|logs/|users/<user_id>|users$)")
# Listener paths with a public read: anyone sees a listener's public playlists (the view
# shows private ones too to their owner or a service), while creating one is guarded.
PUBLIC_READS = {("/api/v1/users/<user_id>/playlists", "GET")}


def test_every_admin_route_needs_a_role_reads_the_operator_role_changes_the_admin_role():
    app = blueprint_app()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        role = getattr(app.view_functions[rule.endpoint], "admin_required", None)
        if not rule.rule.startswith("/api/v1/admin/"):
            assert role is None, rule.rule
            continue
        writes = rule.methods & {"POST", "PUT", "DELETE", "PATCH"}
        assert role == ("admin" if writes else "operator"), rule.rule


def test_every_listener_route_is_guarded_and_no_public_one_is():
    app = blueprint_app()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        guarded = getattr(view, "listener_required", None) is not None
        if rule.rule == "/api/v1/users" and "GET" in rule.methods:
            continue  # open while demo sign-in is on, else a scope: checked in the view
        if (rule.rule, "GET") in PUBLIC_READS and "GET" in rule.methods:
            assert not guarded, rule.rule
            continue
        assert guarded == bool(LISTENER_ROUTES.match(rule.rule)), rule.rule


def test_the_document_marks_guarded_routes_with_their_scheme_and_answers():
    for path, operations in spec()["paths"].items():
        for method, described in operations.items():
            schemes = {name for s in described.get("security", []) for name in s}
            if path.startswith("/api/v1/admin/"):
                assert schemes == {"adminToken"}, (method, path)
                assert {"401", "403", "503"} <= described["responses"].keys(), (method, path)
            elif (
                LISTENER_ROUTES.match(rule := path.replace("{", "<").replace("}", ">"))
                and not (path == "/api/v1/users" and method == "get")
                and (rule, method.upper()) not in PUBLIC_READS
            ):
                assert schemes == {"bearerToken", "playerCookie"}, (method, path)
                assert {"401", "403"} <= described["responses"].keys(), (method, path)
            else:
                assert not schemes, (method, path)


def test_declared_models_give_the_documented_parameters_and_bodies():
    document = spec()
    search = document["paths"]["/api/v1/search"]["get"]
    q = next(p for p in search["parameters"] if p["name"] == "q")
    assert q["required"] and q["schema"]["maxLength"] == 100
    assert q["schema"]["pattern"] == r"^[^\x00]*$"
    event = document["components"]["schemas"]["Event"]
    assert event["additionalProperties"] is False
    assert set(event["required"]) == {
        "user_id", "track_id", "timestamp", "action", "duration", "total_duration"
    }  # fmt: skip
    genres = document["paths"]["/api/v1/users/{user_id}/genres"]["put"]
    body = genres["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert document["components"]["schemas"][body.rsplit("/", 1)[1]]["required"] == [
        "onboarding_genres"
    ]
