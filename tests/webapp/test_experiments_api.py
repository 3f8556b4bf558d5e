"""The experiments' admin endpoints against the real warehouse: the token, start, list,
show, stop, and the 400 / 404 / 409 answers naming the field."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from recsys import db
from recsys import experiment_store as store
from tests.webapp.test_admin_api import record_version

pytestmark = pytest.mark.integration

_names = itertools.count(1)
ARMS = [{"name": "control", "share": 0.5}, {"name": "low_blend", "share": 0.5, "blend": 0.5}]


def fresh() -> str:
    return f"api-{next(_names)}-{dt.datetime.now().strftime('%H%M%S%f')}"


@pytest.fixture(scope="module")
def admin_client(client, settings):
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {settings.admin_token}"
    yield client
    del client.environ_base["HTTP_AUTHORIZATION"]


@pytest.fixture(autouse=True)
def nothing_left_running(postgres):
    yield
    with db.connect(postgres, autocommit=True) as conn:
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test teardown")


@pytest.fixture(scope="module")
def versions(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        return {"passed": record_version(conn, "passed", 0.4),
                "rejected": record_version(conn, "rejected", 0.1, with_vectors=False)}  # fmt: skip


def start(client, **fields):
    return client.post(
        "/api/v1/admin/experiments",
        json={"name": fresh(), "surface": "home", "arms": ARMS, **fields},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/admin/experiments"),
        ("post", "/api/v1/admin/experiments"),
        ("get", "/api/v1/admin/experiments/some-name"),
        ("post", "/api/v1/admin/experiments/some-name/stop"),
    ],
)
def test_every_experiment_endpoint_needs_the_token(client, method, path):
    assert getattr(client, method)(path).status_code == 401
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403


def test_start_list_show_and_stop(admin_client, versions):
    arms = [ARMS[0], {"name": "older_model", "share": 0.5, "model_version": versions["passed"]}]
    started = start(admin_client, arms=arms, notes="does the old model do better?")
    assert started.status_code == 201, started.json
    body = started.json
    name = body["name"]
    assert (body["status"], body["surface"], body["notes"]) == (
        "running", "home", "does the old model do better?"
    )  # fmt: skip
    older = {"name": "older_model", "share": 0.5, "model_version": versions["passed"]}
    assert body["arms"][1] == {**older, "blend": None, "random": False}
    assert body["started_by"].startswith("admin API")

    listed = admin_client.get("/api/v1/admin/experiments").json["experiments"]
    assert listed[0]["name"] == name and listed[0]["status"] == "running"

    shown = admin_client.get(f"/api/v1/admin/experiments/{name}").json
    assert shown["name"] == name and shown["confidence"] == 0.95
    assert [a["name"] for a in shown["arms"]] == ["control", "older_model"]
    assert shown["arms"][0]["control"] is True and shown["arms"][0]["lift"] is None
    assert shown["arms"][1]["lift"]["play_through_rate"]["verdict"] == "not enough data"

    stopped = admin_client.post(f"/api/v1/admin/experiments/{name}/stop")
    assert stopped.status_code == 200 and stopped.json["status"] == "stopped"
    again = admin_client.post(f"/api/v1/admin/experiments/{name}/stop")
    assert again.status_code == 409
    assert again.json["errors"] == [{"field": "name", "reason": again.json["message"]}]


@pytest.mark.parametrize(
    ("fields", "field", "wording"),
    [
        ({"name": "has space"}, "name", "letters, digits"),
        ({"name": 7}, "name", "must be a string"),
        ({"surface": "search"}, "surface", "home, up_next"),
        ({"arms": None}, "arms", "must be a list"),
        ({"arms": [{"name": "alone", "share": 1}]}, "arms", "at least 2 arms"),
        ({"arms": [ARMS[0], {"name": "b", "share": 0.4}]}, "arms", "sum to"),
        ({"arms": [ARMS[0], {"name": "b", "share": 0.5, "blend": 1.5}]}, "arms[1].blend",
         "at most 1"),
        ({"arms": [ARMS[0], {"name": "b", "share": "half"}]}, "arms[1].share", "number"),
        ({"arms": [ARMS[0], {"name": "b", "share": 0.5, "colour": "red"}]}, "arms[1].colour",
         "unknown field"),
        ({"arms": [{"name": "a", "share": 0.5, "random": True}, ARMS[0]]}, "arms",
         "cannot serve random"),
        ({"arms": [{"name": "a", "share": 0.5, "blend": 0.3}, ARMS[0]]}, "arms[0]", "control"),
        ({"arms": [ARMS[0], {"name": "b", "share": 0.5, "model_version": 10**12}]},
         "arms[1].model_version", "no model version"),
        ({"surface": "up_next", "arms": [ARMS[0], {"name": "b", "share": 0.5, "model_version": 1}]},
         "arms[1].model_version", "active model"),
        ({"notes": None, "owner": "me"}, "owner", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_experiment_is_400_naming_the_field(admin_client, fields, field, wording):
    answer = start(admin_client, **fields)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"] == "invalid_experiment"
    errors = answer.json["errors"]
    assert [e["field"] for e in errors] == [field]
    assert wording in errors[0]["reason"]


def test_a_rejected_model_version_is_400(admin_client, versions):
    arms = [ARMS[0], {"name": "b", "share": 0.5, "model_version": versions["rejected"]}]
    answer = start(admin_client, arms=arms)
    assert answer.status_code == 400
    assert answer.json["errors"][0]["field"] == "arms[1].model_version"
    assert "is rejected" in answer.json["errors"][0]["reason"]


def test_a_body_that_is_not_json_is_415(admin_client):
    answer = admin_client.post("/api/v1/admin/experiments", data="name=x")
    assert answer.status_code == 415


def test_one_running_experiment_per_surface_is_409(admin_client):
    first = start(admin_client)
    assert first.status_code == 201
    busy = start(admin_client)
    assert busy.status_code == 409
    assert busy.json["errors"][0]["field"] == "surface"
    assert first.json["name"] in busy.json["message"]
    assert start(admin_client, surface="up_next").status_code == 201

    reused = start(admin_client, name=first.json["name"], surface="up_next")
    assert reused.status_code == 409
    assert reused.json["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/admin/experiments/no-such"),
        ("post", "/api/v1/admin/experiments/no-such/stop"),
    ],
)
def test_an_unknown_experiment_is_404(admin_client, method, path):
    answer = getattr(admin_client, method)(path)
    assert answer.status_code == 404
    assert answer.json["error"] == "unknown_experiment"
    assert answer.json["errors"] == [{"field": "name", "reason": "unknown experiment"}]


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/admin/experiments"]) == {"get", "post"}
    assert "get" in paths["/api/v1/admin/experiments/{name}"]
    assert "post" in paths["/api/v1/admin/experiments/{name}/stop"]
    answers = paths["/api/v1/admin/experiments"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409"} <= set(answers)
