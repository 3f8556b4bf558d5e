"""The admin endpoints against the real warehouse: the token, model versions, activation.
(Starting runs through Airflow is covered end to end in tests/e2e/test_admin_runs.py.)"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from recsys import db
from recsys import model_registry as registry

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 2, 1)


def record_version(conn, status: str, ndcg: float, with_vectors: bool = True) -> int:
    version = registry.create_run(
        conn, DAY, DAY + dt.timedelta(days=90), DAY + dt.timedelta(days=83), {"rank": 4}, None
    )
    if with_vectors:
        with conn.transaction():
            rng = np.random.default_rng(version)
            registry.write_factors(
                conn, version, ["u1", "u2"], rng.normal(size=(2, 4)), ["s1"], np.ones((1, 4))
            )
    metrics = {"model": {"ndcg": ndcg, "k": 10}, "popularity": {"ndcg": ndcg / 2, "k": 10}}
    registry.finish_run(
        conn, version, status, None if status == "passed" else "test", metrics=metrics
    )
    return version


@pytest.fixture(scope="module")
def versions(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        good = record_version(conn, "passed", 0.4)
        newer = record_version(conn, "passed", 0.45)
        rejected = record_version(conn, "rejected", 0.1, with_vectors=False)
        registry.activate(conn, newer, by="test")
    return {"good": good, "newer": newer, "rejected": rejected}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/admin/models"),
        ("post", "/api/v1/admin/models/1/activate"),
        ("post", "/api/v1/admin/retrain"),
        ("post", "/api/v1/admin/embed"),
        ("get", "/api/v1/admin/runs/admin__als_training__20260101T000000__abcdef"),
    ],
)
def test_every_admin_endpoint_needs_the_token(client, method, path):
    missing = getattr(client, method)(path)
    assert missing.status_code == 401
    assert missing.get_json()["errors"][0]["field"] == "Authorization"
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert wrong.get_json()["error"] == "forbidden"


def test_models_lists_versions_with_metrics_and_the_active_one(client, admin, versions):
    body = client.get("/api/v1/admin/models", headers=admin).get_json()
    by_version = {v["version"]: v for v in body["versions"]}
    assert body["active"] == versions["newer"]
    assert by_version[versions["newer"]]["active"] is True
    assert by_version[versions["good"]]["active"] is False
    assert by_version[versions["rejected"]]["status"] == "rejected"
    assert by_version[versions["good"]]["metrics"]["model"]["ndcg"] == 0.4


def test_models_carry_their_online_metrics_per_surface(client, admin, versions, settings):
    good = versions["good"]
    days = ("2098-03-01", "2098-03-02")
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("delete from analytics.online_metrics where day in (%s, %s)", days)
        for day, completes, skips in ((days[0], 6, 2), (days[1], 3, 1)):
            conn.execute(
                "insert into analytics.online_metrics values"
                " (%s, 'home', %s, null, null, 5, 50, 20, 12, 10, %s, %s, 2, 1, 900, now())",
                (day, good, completes, skips),
            )
    try:
        body = client.get("/api/v1/admin/models", headers=admin).get_json()
    finally:
        with db.connect(settings, autocommit=True) as conn:
            conn.execute("delete from analytics.online_metrics where day in (%s, %s)", days)
    by_version = {v["version"]: v for v in body["versions"]}
    home = by_version[good]["online"]["home"]
    assert (home["first_day"], home["last_day"]) == days
    assert (home["impressions"], home["completes"], home["skips"]) == (10, 9, 3)
    assert home["play_through_rate"] == 0.75 and home["skip_rate"] == 0.25
    assert home["play_rate"] == 0.2 and home["seconds_per_impression"] == 180.0
    assert by_version[versions["rejected"]]["online"] == {}, "it never served"


def test_rollback_and_forward(client, admin, versions, settings):
    back = client.post(f"/api/v1/admin/models/{versions['good']}/activate", headers=admin)
    assert back.status_code == 200 and back.get_json()["active"] == versions["good"]
    with db.connect(settings) as conn:
        assert registry.active_version(conn) == versions["good"]
        (served,) = conn.execute("select distinct version from model.active_factors").fetchone()
        assert served == versions["good"]
    forward = client.post(f"/api/v1/admin/models/{versions['newer']}/activate", headers=admin)
    assert forward.get_json()["active"] == versions["newer"]


def test_a_rejected_version_cannot_be_served(client, admin, versions, settings):
    answer = client.post(f"/api/v1/admin/models/{versions['rejected']}/activate", headers=admin)
    assert answer.status_code == 409
    assert "rejected" in answer.get_json()["message"]
    with db.connect(settings) as conn:
        assert registry.active_version(conn) == versions["newer"]


@pytest.mark.parametrize(("version", "status"), [("999999", 404), ("latest", 400)])
def test_unknown_or_malformed_versions(client, admin, versions, version, status):
    answer = client.post(f"/api/v1/admin/models/{version}/activate", headers=admin)
    assert answer.status_code == status
    assert answer.get_json()["errors"][0]["field"] == "version"


def test_runs_that_are_not_admin_runs_are_unknown(client, admin):
    answer = client.get("/api/v1/admin/runs/scheduled__2026-01-01", headers=admin)
    assert answer.status_code == 404 and answer.get_json()["error"] == "unknown_run"


def test_starting_a_run_when_airflow_is_unreachable_answers_503(settings, admin, world):
    import dataclasses
    import socket

    from webapp import create_app

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app = create_app(dataclasses.replace(settings, airflow_port=closed_port))
    answer = app.test_client().post("/api/v1/admin/retrain", headers=admin)
    assert answer.status_code == 503
    assert answer.get_json()["error"] == "airflow_unavailable"
