"""Every DAG file imports cleanly and follows the house rules (tags, owner, retries, docs)."""

from pathlib import Path

import pytest

from recsys.settings import PROJECT_ROOT

DAG_FILES = sorted(
    p
    for p in (PROJECT_ROOT / "dags").glob("*.py")
    if p.name not in ("dag_defaults.py", "__init__.py")
)


@pytest.fixture(scope="module", params=DAG_FILES, ids=lambda p: p.name)
def dag_bag(request):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(request.param))


def test_there_are_dags():
    assert DAG_FILES


def test_every_dag_is_one_the_project_unpauses_and_shows():
    """`make up` unpauses DAG_IDS and the admin page lists their runs: a DAG left out of
    them would stay paused (Airflow creates DAGs paused) and never run."""
    from recsys.airflow_client import DAG_IDS

    assert sorted(DAG_IDS) == sorted(p.stem for p in DAG_FILES)


def test_imports_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert dag_bag.dags


def test_house_rules(dag_bag):
    for dag_id, dag in dag_bag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no docs for the UI"
        assert Path(dag.fileloc).stem == dag_id, "one DAG per file, named after it"
        assert dag.catchup is False
        assert dag.max_active_runs == 1, "counters and resyncs run one interval at a time"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries < 2"
            assert task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.execution_timeout is not None
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} retries flat"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id} fails silently"
            if task.task_type == "SparkSubmitOperator":
                assert task.pool == "spark", f"{dag_id}.{task.task_id} outside the Spark pool"
