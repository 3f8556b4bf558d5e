"""An admin retrains and re-embeds from the API: the runs go through the real Airflow
(scheduler, LocalExecutor, spark-submit) and their outcome is followed through the API; the
similar_songs DAG follows the assets they emit."""

import time

import psutil
import pytest

from recsys import db
from recsysctl.stack import airflow, postgres
from recsysctl.stack.process import read_pid
from webapp import create_app

pytestmark = pytest.mark.integration
AIRFLOW_DAGS = ("als_training", "lyrics_embeddings", "similar_songs")


@pytest.fixture(scope="module")
def admin_client(settings, world, kafka, redis_server):
    app = create_app(settings)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {settings.admin_token}"
    yield client
    app.extensions["recsys"].close()


def run_to_the_end(client, airflow_api, action: str, timeout_s: float = 600) -> dict:
    """Start ``action`` through the API and follow the run through the API until it ends;
    a failed run is reported with the tail of its Spark task's log."""
    started = client.post(f"/api/v1/admin/{action}")
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["dag_paused"] is False
    return follow_to_the_end(client, airflow_api, action, started.get_json()["run_id"], timeout_s)


def follow_to_the_end(client, airflow_api, action: str, run_id: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    run = {"state": "not answered by Airflow"}
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v1/admin/runs/{run_id}")
        if answer.status_code == 503 and answer.get_json()["error"] == "airflow_unavailable":
            time.sleep(3)  # Airflow (niced) too busy to answer: a client asks again, as here
            continue
        assert answer.status_code == 200, answer.get_json()
        run = answer.get_json()
        if run["state"] == "success":
            return run
        if run["state"] == "failed":
            task = "embed" if action == "embed" else "train"
            log = airflow_api.task_log(run["dag_id"], run_id, task)
            raise AssertionError(f"{run['tasks']}\n{log[-4000:]}")
        time.sleep(3)
    raise AssertionError(f"run {run_id} still {run['state']} after {timeout_s} s: {run}")


def test_embed_from_the_api(history, admin_client, airflow_api, settings):
    run = run_to_the_end(admin_client, airflow_api, "embed")

    embedding = run["embedding"]
    with db.connect(settings) as conn:
        (with_lyrics,) = conn.execute(
            "select count(*) from catalog.songs where coalesce(lyrics, '') <> ''"
        ).fetchone()
        (stored,) = conn.execute("select count(*) from model.lyrics_embeddings").fetchone()
    assert embedding["status"] == "succeeded"
    assert embedding["songs_embedded"] + embedding["songs_unchanged"] == with_lyrics == stored


def test_airflow_and_the_spark_jobs_it_runs_yield_the_cpu(
    history, admin_client, airflow_api, settings
):
    """The local stack runs Airflow at RECSYS_AIRFLOW_NICE: its components, the task runners
    and the spark-submit JVMs they start, while PostgreSQL keeps the normal priority."""
    assert settings.airflow_nice > 0
    components = {
        name: psutil.Process(read_pid(settings.state_dir, f"airflow-{name}"))
        for name in airflow.COMPONENTS
    }
    for name, supervisor in components.items():
        for proc in (supervisor, *supervisor.children()):
            assert proc.nice() == settings.airflow_nice, (name, proc.cmdline())

    started = admin_client.post("/api/v1/admin/embed")
    assert started.status_code == 202, started.get_json()
    spark_jobs: dict[int, int] = {}  # pid -> niceness of each spark-submit JVM seen
    deadline = time.monotonic() + 600
    while not spark_jobs and time.monotonic() < deadline:
        for proc in components["scheduler"].children(recursive=True):
            try:
                if "org.apache.spark.deploy.SparkSubmit" in proc.cmdline():
                    spark_jobs[proc.pid] = proc.nice()
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.3)
    follow_to_the_end(admin_client, airflow_api, "embed", started.get_json()["run_id"], 600)
    assert spark_jobs, "no spark-submit seen under the scheduler during the embed run"
    assert set(spark_jobs.values()) == {settings.airflow_nice}
    assert psutil.Process(postgres.postmaster_pid(settings)).nice() == 0


def test_retrain_from_the_api_records_and_gates_a_model(history, admin_client, airflow_api):
    run = run_to_the_end(admin_client, airflow_api, "retrain")

    model = run["model"]
    assert model["dag_run_id"] == run["run_id"]
    assert model["status"] in ("passed", "rejected"), model
    assert model["metrics"]["model"]["users"] > 0
    assert model["n_interactions"] > 0
    # the asset is published exactly when the model went live
    expected = "success" if model["status"] == "passed" else "skipped"
    assert run["tasks"] == {"land_events": "success", "train": "success", "publish": expected}
    models = admin_client.get("/api/v1/admin/models").get_json()
    listed = {v["version"]: v for v in models["versions"]}[model["version"]]
    assert listed["status"] == model["status"] and listed["metrics"] == model["metrics"]


def test_a_run_asked_for_while_its_dag_is_paused_waits_and_says_so(
    history, admin_client, airflow_api
):
    dag_id = "lyrics_embeddings"
    airflow_api.set_paused(dag_id, True)
    try:
        started = admin_client.post("/api/v1/admin/embed")
        assert started.status_code == 202, started.get_json()
        run_id = started.get_json()["run_id"]
        assert started.get_json()["dag_paused"] is True
        time.sleep(10)  # several scheduler loops: a paused DAG's run must not start
        waiting = admin_client.get(f"/api/v1/admin/runs/{run_id}").get_json()
        assert (waiting["state"], waiting["dag_paused"]) == ("queued", True), waiting
    finally:
        airflow_api.set_paused(dag_id, False)
    run = follow_to_the_end(admin_client, airflow_api, "embed", run_id, timeout_s=600)
    assert run["dag_paused"] is False and run["embedding"]["status"] == "succeeded"


def test_a_new_model_or_new_lyrics_refresh_the_similar_lists(
    history, admin_client, airflow_api, settings
):
    """The embed and retrain runs emit their assets; the scheduler runs the similar_songs DAG
    on them, which leaves the lists of the served model and lyrics complete (or, with no
    model served, nothing to list)."""
    from recsys.model_registry import similar_lists

    def asset_runs():
        return [
            r for r in airflow_api.list_runs("similar_songs") if r["run_type"] == "asset_triggered"
        ]

    if not asset_runs():  # run alone: make an asset event
        run_to_the_end(admin_client, airflow_api, "embed")
    deadline = time.monotonic() + 600
    runs = asset_runs()
    while time.monotonic() < deadline:
        runs = asset_runs()
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(3)
    assert runs and {r["state"] for r in runs} == {"success"}, runs
    with db.connect(settings) as conn:
        version, lyrics = similar_lists.served_pair(conn)
        complete = conn.execute(
            "select songs from model.similar_list_runs where status = 'complete'"
            " and model_version = %s and lyrics_version = %s",
            (version, lyrics),
        ).fetchall()
    if version is None:  # the gate rejected every model: nothing to list
        assert complete == []
    else:
        assert len(complete) == 1 and complete[0][0] > 0
