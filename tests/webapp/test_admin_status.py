"""GET /api/v1/admin/status against the real warehouse: freshness from the newest run of each
job, the 20 newest alerts, and an answer without DAG runs when Airflow cannot be reached.
(With Airflow up, the admin page shows the runs; tests/e2e starts the real Airflow.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket

import pytest

from recsys import db
from webapp import create_app

pytestmark = pytest.mark.integration

# Far in the future, so these rows are the newest whatever other tests wrote; removed after.
FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
ALERTS = 25


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(postgres, settings):
    """The app with Airflow at a port nothing listens on."""
    app = create_app(dataclasses.replace(settings, airflow_port=closed_port()))
    yield app.test_client()
    app.extensions["recsys"].close()


@pytest.fixture(scope="module")
def newest_runs(postgres):
    """One row of each job, newer than anything else, and ALERTS alerts a minute apart."""
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "insert into analytics.counter_runs (interval_start, interval_end, events, plays,"
            " completes, skips, seconds_heard, counted_at)"
            " values (%s, %s, 40, 30, 20, 5, 9000, %s)",
            (FUTURE, FUTURE + dt.timedelta(minutes=15), FUTURE + dt.timedelta(minutes=16)),
        )
        conn.execute(
            "insert into analytics.resync_runs (snapshot_date, window_start, songs_ranked,"
            " plays_7d_total, intervals_checked, intervals_corrected, events_corrected,"
            " plays_corrected, daily_rows_corrected, songs_corrected, computed_at)"
            " values (%s, %s, 300, 5000, 96, 1, 3, 2, 1, 1, %s)",
            (FUTURE.date(), FUTURE.date() - dt.timedelta(days=6), FUTURE + dt.timedelta(hours=1)),
        )
        (embedding_id,) = conn.execute(
            "insert into model.embedding_runs (dag_run_id, model_name, status, songs_embedded,"
            " started_at) values ('status-test', 'all-MiniLM-L6-v2', 'succeeded', 12, %s)"
            " returning id",
            (FUTURE,),
        ).fetchone()
        alert_ids = [
            conn.execute(
                "insert into ops.alerts (occurred_at, dag_id, task_id, message)"
                " values (%s, 'play_counters', 'count', %s) returning id",
                (FUTURE + dt.timedelta(minutes=i), f"alert {i}"),
            ).fetchone()[0]
            for i in range(ALERTS)
        ]
    yield {"embedding_id": embedding_id, "alert_ids": alert_ids}
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("delete from analytics.counter_runs where interval_start = %s", (FUTURE,))
        conn.execute("delete from analytics.resync_runs where snapshot_date = %s", (FUTURE.date(),))
        conn.execute("delete from model.embedding_runs where id = %s", (embedding_id,))
        conn.execute("delete from ops.alerts where id = any(%s)", (alert_ids,))


def test_status_needs_the_admin_token(client):
    assert client.get("/api/v1/admin/status").status_code == 401
    wrong = client.get("/api/v1/admin/status", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 403


def test_freshness_is_the_newest_run_of_each_job(client, admin, newest_runs):
    answer = client.get("/api/v1/admin/status", headers=admin)
    assert answer.status_code == 200
    freshness = answer.get_json()["freshness"]
    interval_end = FUTURE + dt.timedelta(minutes=15)
    assert dt.datetime.fromisoformat(freshness["last_landed_event_at"]) == interval_end
    assert dt.datetime.fromisoformat(freshness["counters"]["interval_end"]) == interval_end
    assert freshness["counters"]["events"] == 40
    assert freshness["resync"]["snapshot_date"] == FUTURE.date().isoformat()
    assert freshness["resync"]["intervals_corrected"] == 1
    assert freshness["embeddings"]["id"] == newest_runs["embedding_id"]
    assert freshness["embeddings"]["songs_embedded"] == 12


def test_alerts_are_the_twenty_newest_newest_first(client, admin, newest_runs):
    alerts = client.get("/api/v1/admin/status", headers=admin).get_json()["alerts"]
    newest_first = newest_runs["alert_ids"][::-1]
    assert [a["id"] for a in alerts] == newest_first[:20]
    assert alerts[0]["message"] == f"alert {ALERTS - 1}"


def test_without_airflow_the_status_still_answers(client, admin, newest_runs):
    body = client.get("/api/v1/admin/status", headers=admin).get_json()
    assert body["airflow"] == "unavailable"
    assert body["dag_runs"] is None
    assert body["freshness"]["counters"] is not None
