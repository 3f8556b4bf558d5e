"""The similar_songs DAG: it runs when a model goes live or lyrics are embedded (the assets
als_training and lyrics_embeddings emit) and daily, and its one task refreshes the lists."""

from recsys.settings import PROJECT_ROOT


def load(name):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / f"{name}.py"))
    assert bag.import_errors == {}
    return bag.dags[name]


def emitted(dag) -> set[str]:
    return {o.name for task in dag.tasks for o in task.outlets}


def test_it_runs_on_the_assets_the_model_and_lyrics_dags_emit_and_daily():
    dag = load("similar_songs")
    assets = {asset.name for asset in dag.timetable.asset_condition.objects}
    assert assets == {"als_model", "lyrics_embeddings"}
    assert emitted(load("als_training")) == {"als_model"}
    assert emitted(load("lyrics_embeddings")) == {"lyrics_embeddings"}
    assert dag.timetable.timetable.expression == "0 5 * * *"  # what no asset announces
    assert [t.task_id for t in dag.tasks] == ["refresh"]
