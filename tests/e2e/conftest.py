import datetime as dt

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


@pytest.fixture(scope="session")
def airflow_api(airflow_db, settings):
    """The real Airflow (api-server, scheduler, dag-processor, triggerer) with every DAG
    parsed and unpaused; its REST client."""
    from recsys.airflow_client import AirflowClient
    from recsys.stack import airflow as airflow_service

    airflow_service.start(settings)
    client = AirflowClient(settings)
    for dag_id in ("play_counters", "trending_resync", "als_training", "lyrics_embeddings"):
        client.wait_for_dag(dag_id, timeout_s=180)
    return client
