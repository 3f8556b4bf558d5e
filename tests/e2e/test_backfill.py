"""`airflow backfill create` on the real Airflow (scheduler, dag-processor, LocalExecutor,
spark-submit) re-runs past intervals of play_counters and trending_resync and leaves the
numbers the live runs left."""

import datetime as dt
import time

import pytest

from recsysctl.stack import airflow as airflow_service
from recsysctl.stack.process import log_path
from tests.pipeline_helpers import warehouse_state

pytestmark = pytest.mark.integration
AIRFLOW_DAGS = ("play_counters", "trending_resync")


def backfill(settings, dag_id: str, start: dt.datetime, end: dt.datetime) -> None:
    result = airflow_service.run_cli(
        settings,
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        start.isoformat(),
        "--to-date",
        end.isoformat(),
        "--reprocess-behavior",
        "completed",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def wait_for_backfill(client, settings, dag_id: str, timeout_s: float = 420) -> list:
    """Wait for the DAG's backfills to complete and every run of their range to finish;
    return those runs. A scheduled run can share the range (the backfill then leaves it
    alone): when the test starts just after a quarter hour, that run is still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        backfills = client.backfills(dag_id)
        if backfills and all(b["completed_at"] for b in backfills):
            start = min(b["from_date"] for b in backfills)
            end = max(b["to_date"] for b in backfills)
            runs = [
                r
                for r in client.list_runs(dag_id)
                if r["logical_date"] and start <= r["logical_date"] <= end
            ]
            if all(r["state"] in ("success", "failed") for r in runs):
                return runs
        time.sleep(3)
    runs = [
        (r["dag_run_id"], r["state"], client.task_states(dag_id, r["dag_run_id"]))
        for r in client.list_runs(dag_id)
    ]
    scheduler_log = log_path(settings.state_dir, "airflow-scheduler").read_text()[-3000:]
    raise AssertionError(
        f"{dag_id} backfill not finished after {timeout_s} s: {runs}\n{scheduler_log}"
    )


def wait_until_idle(client, timeout_s: float = 420) -> None:
    """Until no run of the DAGs is queued or running (a scheduled run may have just begun)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = [
            (dag_id, r["dag_run_id"])
            for dag_id in AIRFLOW_DAGS
            for r in client.list_runs(dag_id, limit=20)
            if r["state"] in ("queued", "running")
        ]
        if not busy:
            return
        time.sleep(3)
    raise AssertionError(f"runs still going after {timeout_s} s: {busy}")


def test_backfill_leaves_the_live_numbers(airflow_api, settings, trending_day):
    wait_until_idle(airflow_api)  # the live numbers are those no run is still changing
    live = warehouse_state(settings)
    now = dt.datetime.now(dt.UTC)
    last_closed = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    first = last_closed - dt.timedelta(minutes=30)
    backfill(settings, "play_counters", first, last_closed - dt.timedelta(minutes=15))
    day = dt.datetime.combine(trending_day, dt.time(), dt.UTC)
    backfill(settings, "trending_resync", day, day + dt.timedelta(hours=1))  # runs at 00:30

    counters = wait_for_backfill(airflow_api, settings, "play_counters")
    resyncs = wait_for_backfill(airflow_api, settings, "trending_resync")
    assert [r["state"] for r in counters + resyncs] == ["success"] * 3
    assert sorted(r["data_interval_start"][:16] for r in counters) == [
        (first + dt.timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M") for i in range(2)
    ]
    assert resyncs[0]["data_interval_start"].startswith(trending_day.isoformat())
    assert warehouse_state(settings) == live
