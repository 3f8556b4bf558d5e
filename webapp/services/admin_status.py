"""What the admin page shows about the pipeline: how fresh the warehouse is, recent alerts and
recent DAG runs.

Reads analytics.counter_runs, analytics.resync_runs, model.embedding_runs (through the model
registry), ops.alerts (through recsys.alerts) and,
through Airflow's REST API, the runs of the pipeline's DAGs. Writes nothing.
"""

from __future__ import annotations

import logging

import requests
from psycopg.rows import dict_row

from recsys import alerts
from recsys.airflow_client import DAG_IDS, AirflowClient, AirflowError
from recsys.model_registry import embeddings

log = logging.getLogger(__name__)

ALERTS_SHOWN = 20
RUNS_SHOWN_PER_DAG = 5

LATEST_COUNTER_RUN_SQL = """
    select interval_start, interval_end, events, plays, completes, skips, counted_at
    from analytics.counter_runs
    order by interval_end desc
    limit 1
"""

LATEST_RESYNC_RUN_SQL = """
    select snapshot_date, window_start, songs_ranked, plays_7d_total, intervals_checked,
           intervals_corrected, events_corrected, computed_at
    from analytics.resync_runs
    order by computed_at desc
    limit 1
"""


def _one(conn, query: str) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchone()


def freshness(conn) -> dict:
    """The latest run of each warehouse job.

    ``last_landed_event_at`` is the end of the newest counted interval: every event Kafka
    appended before it is in the lake (play_counters lands before it counts). The nightly
    resync lands too, but records only its day, not how far it landed, so it cannot move
    this bound.
    """
    counters = _one(conn, LATEST_COUNTER_RUN_SQL)
    return {
        "last_landed_event_at": counters["interval_end"] if counters else None,
        "counters": counters,
        "resync": _one(conn, LATEST_RESYNC_RUN_SQL),
        "embeddings": embeddings.latest_run(conn),
    }


def _run_summary(run: dict) -> dict:
    keys = ("dag_run_id", "run_type", "state", "logical_date", "start_date", "end_date")
    return {key: run.get(key) for key in keys}


def dag_runs(client: AirflowClient, limit: int = RUNS_SHOWN_PER_DAG) -> dict[str, list[dict]]:
    """The newest runs of each pipeline DAG. A DAG Airflow has not parsed yet has none; any
    other Airflow failure raises AirflowError or a requests error."""
    runs = {}
    for dag_id in DAG_IDS:
        try:
            runs[dag_id] = [_run_summary(r) for r in client.list_runs(dag_id, limit=limit)]
        except AirflowError as err:
            if err.status != 404:
                raise
            runs[dag_id] = []
    return runs


def warehouse(conn) -> dict:
    return {"freshness": freshness(conn), "alerts": alerts.recent_alerts(conn, ALERTS_SHOWN)}


def airflow(client: AirflowClient) -> dict:
    """The DAG runs, or ``dag_runs`` None when Airflow cannot be reached, so the page still
    shows what the warehouse knows."""
    try:
        return {"airflow": "available", "dag_runs": dag_runs(client)}
    except (AirflowError, requests.RequestException) as err:
        log.warning("admin status without DAG runs: %s", err)
        return {"airflow": "unavailable", "dag_runs": None}
