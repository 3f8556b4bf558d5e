"""Every admin action through the real API leaves exactly one audit row: who (the token's
bearer by address), through the API, what, on what, and how it ended. A refused action (an
unknown version or song, a conflicting experiment, Airflow out of reach) leaves one row with
the error's kind and changes nothing; a request malformed before any action (a version that
is not a number) leaves none. GET /admin/audit reads them newest first, a page at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import uuid

import numpy as np
import pytest

from recsys import audit, db
from recsys import experiment_store as store
from recsys import model_registry as registry
from webapp import create_app

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 5, 1)
ACTOR = "api:token:admin@127.0.0.1"  # the admin token (named admin) from the test client's address


@pytest.fixture
def new_rows(conn):
    """The audit rows written since the test began, oldest first."""
    first = audit.recent(conn, 1)
    start = first[0].id if first else 0

    def rows() -> list[tuple]:
        found = [e for e in reversed(audit.recent(conn, audit.MAX_LIMIT)) if e.id > start]
        assert all((e.actor, e.via) == (ACTOR, "api") for e in found), found
        return [(e.action, e.target, e.outcome) for e in found]

    return rows


@pytest.fixture(scope="module")
def servable(postgres):
    """A gate-passed version with its vectors, and the version served before the module."""
    with db.connect(postgres, autocommit=True) as conn:
        version = registry.create_run(
            conn, DAY, DAY + dt.timedelta(days=90), DAY + dt.timedelta(days=83), {"rank": 4}, None
        )
        with conn.transaction():
            ones = np.ones((1, 4))
            registry.write_factors(conn, version, ["u1"], ones, ["s1"], ones)
        registry.finish_run(conn, version, "passed", None)
        previous = registry.active_version(conn)
    yield version
    if previous is not None:
        with db.connect(postgres, autocommit=True) as conn:
            registry.activate(conn, previous, by="test teardown")


def test_the_audit_needs_the_token(client):
    assert client.get("/api/v1/admin/audit").status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/api/v1/admin/audit", headers=wrong).status_code == 403


def test_activation_leaves_one_row_and_a_refused_one_its_kind(client, admin, servable, new_rows):
    assert (
        client.post(f"/api/v1/admin/models/{servable}/activate", headers=admin).status_code == 200
    )
    assert client.post("/api/v1/admin/models/999999999/activate", headers=admin).status_code == 404
    assert client.post("/api/v1/admin/models/latest/activate", headers=admin).status_code == 400
    assert new_rows() == [
        ("model.activate", str(servable), "ok"),
        ("model.activate", "999999999", "model_not_found"),
    ]


def test_takedown_and_restore_leave_one_row_each(client, admin, world, new_rows):
    song = world.songs[0]["id"]
    path = f"/api/v1/admin/songs/{song}"
    assert client.post(f"{path}/takedown", headers=admin).status_code == 200
    assert client.post(f"{path}/restore", headers=admin).status_code == 200
    missing = client.post("/api/v1/admin/songs/no-such-song/takedown", headers=admin)
    assert missing.status_code == 404
    assert new_rows() == [
        ("song.takedown", song, "ok"),
        ("song.restore", song, "ok"),
        ("song.takedown", "no-such-song", "unknown_song"),
    ]


def test_experiment_start_and_stop_leave_one_row_each(client, admin, conn, new_rows):
    for running in store.running(conn).values():
        store.stop(conn, running.name, "test setup")
    name = f"audit-{uuid.uuid4().hex[:8]}"
    arms = [{"name": "control", "share": 0.5}, {"name": "b", "share": 0.5, "blend": 0.2}]
    body = {"name": name, "surface": "home", "arms": arms}
    assert client.post("/api/v1/admin/experiments", json=body, headers=admin).status_code == 201
    again = client.post("/api/v1/admin/experiments", json=body, headers=admin)
    assert again.status_code == 409
    stop = f"/api/v1/admin/experiments/{name}/stop"
    assert client.post(stop, headers=admin).status_code == 200
    assert client.post(stop, headers=admin).status_code == 409
    assert new_rows() == [
        ("experiment.start", name, "ok"),
        ("experiment.start", name, "experiment_conflict"),
        ("experiment.stop", name, "ok"),
        ("experiment.stop", name, "experiment_conflict"),
    ]


def test_a_trigger_airflow_never_took_is_recorded_with_its_kind(settings, admin, world, conn):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app = create_app(dataclasses.replace(settings, airflow_port=closed_port))
    try:
        answer = app.test_client().post("/api/v1/admin/retrain", headers=admin)
    finally:
        app.extensions["recsys"].close()
    assert answer.status_code == 503
    (entry,) = audit.recent(conn, 1)
    assert (entry.actor, entry.via, entry.action) == (ACTOR, "api", "model.retrain")
    assert entry.target.startswith("admin__als_training__")  # the run id Airflow never took
    assert entry.outcome not in ("ok", "") and entry.details["dag_id"] == "als_training"
    assert entry.details["error"]


def test_the_audit_reads_newest_first_a_page_at_a_time(client, admin, conn):
    target = f"paging-{uuid.uuid4().hex[:6]}"
    ids = [audit.record(conn, "cli:alice", "cli", "song.restore", target) for _ in range(5)]
    first = client.get("/api/v1/admin/audit?limit=2", headers=admin).get_json()
    assert [e["id"] for e in first["entries"]] == [ids[4], ids[3]]
    assert first["entries"][0] == {
        "id": ids[4], "at": first["entries"][0]["at"], "actor": "cli:alice", "via": "cli",
        "action": "song.restore", "target": target, "details": {}, "outcome": "ok",
    }  # fmt: skip
    assert first["next"] == f"?limit=2&before={ids[3]}"
    second = client.get(f"/api/v1/admin/audit{first['next']}", headers=admin).get_json()
    assert [e["id"] for e in second["entries"]] == [ids[2], ids[1]]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=ten", "before=-1"])
def test_bad_paging_is_named(client, admin, query):
    answer = client.get(f"/api/v1/admin/audit?{query}", headers=admin)
    assert answer.status_code == 400
    assert answer.get_json()["errors"][0]["field"] == query.split("=")[0]


def test_the_audit_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/admin/audit"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"limit", "before"}
