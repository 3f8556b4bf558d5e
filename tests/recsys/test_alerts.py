"""The DAGs' failure callback records an alert operators can see (real PostgreSQL)."""

from types import SimpleNamespace

import pytest

from recsys import alerts, db

pytestmark = pytest.mark.integration


def test_failure_callback_records_an_alert(postgres):
    ti = SimpleNamespace(
        dag_id="play_counters",
        task_id="count_plays",
        run_id="manual__x",
        try_number=3,
        log_url="http://airflow/log",
    )
    alerts.on_task_failure({"ti": ti, "exception": RuntimeError("lake unreachable")})
    with db.connect(postgres) as conn:
        latest = alerts.recent_alerts(conn, limit=1)[0]
    assert (latest["dag_id"], latest["task_id"], latest["run_id"], latest["try_number"]) == (
        "play_counters",
        "count_plays",
        "manual__x",
        3,
    )
    assert latest["message"] == "RuntimeError: lake unreachable"
    assert latest["log_url"] == "http://airflow/log"
