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

    Afterwards the DAGs are paused again and their runs (scheduled ones included) are waited
    for, so no DAG run is still writing while later tests use the same warehouse and lake.
    """
    from recsys.airflow_client import AirflowClient

    client = AirflowClient(airflow_started)
    dag_ids = getattr(request.module, "AIRFLOW_DAGS", DAG_IDS)
    for dag_id in dag_ids:
        client.wait_for_dag(dag_id, timeout_s=180)
    yield client
    for dag_id in dag_ids:
        client.set_paused(dag_id, True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        busy = [
            (dag_id, run["dag_run_id"])
            for dag_id in dag_ids
            for run in client.list_runs(dag_id, limit=20)
            if run["state"] in ("queued", "running")
        ]
        if not busy:
            return
        time.sleep(3)
    raise AssertionError(f"DAG runs still busy 15 minutes after the module: {busy}")
