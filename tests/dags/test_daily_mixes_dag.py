"""The daily_mixes DAG: nightly after als_training and trending_resync, landing first, and
handing the job the run's mix day (its data interval's start) as an argument it reads."""

import datetime as dt

import pendulum
import pytest

from recsys.settings import PROJECT_ROOT
from spark_jobs import daily_mixes as job


def load(name):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


@pytest.fixture(scope="module")
def dag():
    return load("daily_mixes")


def test_the_build_lands_first_and_runs_in_the_spark_pool(dag):
    build = dag.get_task("build")
    assert build.upstream_task_ids == {"land_events"}
    assert build.pool == "spark"
    assert build.application.endswith("spark_jobs/daily_mixes.py")


def test_the_job_gets_the_data_interval_s_day_and_the_run(dag):
    env = dag.get_template_env()
    start = pendulum.datetime(2026, 11, 20, 4, tz="UTC")
    rendered = [
        env.from_string(arg).render(data_interval_start=start, run_id="scheduled__x")
        for arg in dag.get_task("build").application_args
    ]
    args = job.parse_args(rendered)
    assert args.day == dt.date(2026, 11, 20)
    assert args.run_id == "scheduled__x"


def test_it_runs_after_the_night_s_training_and_resync():
    def minute_of_day(name):
        minute, hour, *every_day = load(name).timetable.expression.split()
        assert every_day == ["*", "*", "*"], f"{name} is not daily"
        return int(hour) * 60 + int(minute)

    assert (
        minute_of_day("trending_resync")
        < minute_of_day("als_training")
        < minute_of_day("daily_mixes")
    )
