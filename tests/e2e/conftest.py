import datetime as dt
import time

import pytest


def interval_starts(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Every 15-minute counter interval start from the one holding ``first`` to ``last``'s."""
    start = first.replace(minute=first.minute - first.minute % 15, second=0, microsecond=0)
    starts = []
    while start <= last:
        starts.append(start)
        start += dt.timedelta(minutes=15)
    return starts


@pytest.fixture(scope="session")
def play_counters_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from recsys.settings import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "play_counters.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("play_counters")


@pytest.fixture(scope="session")
def run_interval(play_counters_dag):
    """Run the play_counters DAG (real Spark via spark-submit) for one interval start."""

    def run(start: dt.datetime):
        dag_run = play_counters_dag.test(logical_date=start + dt.timedelta(minutes=15))
        assert dag_run.state == "success", f"play_counters failed for {start}"
        return dag_run

    return run


DAG_IDS = ("play_counters", "trending_resync", "als_training", "lyrics_embeddings")


@pytest.fixture(scope="session")
def airflow_started(airflow_db, settings):
    """The real Airflow: api-server, scheduler, dag-processor, triggerer."""
    from recsys.stack import airflow as airflow_service

    airflow_service.start(settings)
    return settings


@pytest.fixture(scope="module")
def airflow_api(airflow_started, request):
    """Airflow's REST client, with the DAGs the module names in ``AIRFLOW_DAGS`` (default:
    all) parsed and unpaused for its tests.

    Afterwards the DAGs are paused again, so no DAG run is still writing while later tests use
    the same warehouse and lake: a scheduled run not yet started is marked failed, and one
    already running is let finish (the scheduler does not advance a paused DAG's runs).
    """
    from recsys.airflow_client import AirflowClient

    client = AirflowClient(airflow_started)
    dag_ids = getattr(request.module, "AIRFLOW_DAGS", DAG_IDS)
    for dag_id in dag_ids:
        client.wait_for_dag(dag_id, timeout_s=180)
    yield client
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        for dag_id in dag_ids:
            client.set_paused(dag_id, True)
        busy = [
            (dag_id, run["dag_run_id"], run["state"])
            for dag_id in dag_ids
            for run in client.list_runs(dag_id, limit=20)
            if run["state"] in ("queued", "running")
        ]
        for dag_id, run_id, state in busy:
            if state == "queued":
                client.set_run_state(dag_id, run_id, "failed")
        running = {dag_id for dag_id, _, state in busy if state == "running"}
        if not running:
            return
        for dag_id in running:
            client.set_paused(dag_id, False)
        time.sleep(5)
    raise AssertionError(f"DAG runs still busy 15 minutes after the module: {busy}")
