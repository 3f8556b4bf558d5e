"""The als_training DAG's window_anchor param: offered with the job's anchors in Trigger DAG,
and handed to the training job as an argument it understands."""

import pytest

from recsys.settings import PROJECT_ROOT
from spark_jobs import als_training as job

RUN = {"run_id": "manual__1"}


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "als_training.py"))
    assert bag.import_errors == {}
    return bag.dags["als_training"]


def job_args(dag, **params) -> list[str]:
    """The train task's arguments as a run with ``params`` renders them (its end aside)."""
    env = dag.get_template_env()
    values = {**dag.params, **params}
    args = dag.get_task("train").application_args
    end = args.index("--end")
    args = args[:end] + args[end + 2 :]  # the end comes from the run's interval
    return [env.from_string(arg).render(params=values, **RUN) for arg in args]


def test_window_anchor_offers_the_setting_and_every_anchor_of_the_job(dag):
    param = dag.params.get_param("window_anchor")
    assert param.value == "setting"
    assert param.schema["enum"] == ["setting", *job.WINDOW_ANCHORS]
    assert set(param.schema["values_display"]) == set(param.schema["enum"])
    assert param.description


@pytest.mark.parametrize("anchor", ["setting", *job.WINDOW_ANCHORS])
def test_the_train_task_passes_the_anchor_to_the_job(dag, anchor):
    args = job.parse_args(["--end", "2026-03-01", *job_args(dag, window_anchor=anchor)])
    assert args.window_anchor == anchor
    assert args.run_id == "manual__1"


def test_by_default_the_job_follows_the_setting(dag):
    assert job.parse_args(["--end", "2026-03-01", *job_args(dag)]).window_anchor == "setting"


def test_an_unknown_anchor_is_refused_when_the_run_is_triggered(dag):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="newest"):
        dag.params.get_param("window_anchor").resolve("newest")
