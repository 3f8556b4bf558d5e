import datetime as dt

import pytest

from tests.e2e.browser import WIDE, chromium, open_page


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


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (tests/e2e/browser.py)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    """A fresh desktop-sized page for each test."""
    with open_page(browser, WIDE) as page:
        yield page
