"""
### als_training — nightly, and on demand (admin page, API, `python -m recsysctl models retrain`)

Trains the collaborative-filtering model on the last `RECSYS_ALS_WINDOW_DAYS` (90) event days
before the run's end and serves it only if it is good enough:

1. **land_events**: lands what is new on Kafka, so the window is complete in the lake.
2. **train**: implicit confidences from listens, completes and skips; Spark MLlib ALS;
   Recall@K, NDCG@K, MAP@K and coverage on the last `RECSYS_ALS_HOLDOUT_DAYS` days against
   a popularity baseline and the active model; the quality gate. A passing model is written
   to `model.als_*_factors_<version>` with its HNSW index and activated atomically; the
   previous version stays for rollback, older ones are pruned.
3. **publish**: emits the `als_model` asset when a new model went live (skipped when the
   gate rejected it), so DAGs that depend on fresh vectors can schedule on it.

Every run is a row of `model.als_runs` (window, parameters, data sizes, metrics, verdict,
duration): the admin page's model history. A rejected model is not a failure: the run
succeeds, the old model keeps serving, and the reason is in `model.als_runs.reason`.

**The window** ends at the run's day, or, anchored at the newest event, at the day after the
newest event in the lake before it: a history that ended long ago (an imported Last.fm-1K one
ends in 2009) has no events in the 90 days before today. `RECSYS_ALS_WINDOW_ANCHOR` (`today`
or `newest_event`) sets it; the `window_anchor` param (Trigger DAG, with config) overrides it
for one run.

**Re-runs** train the same window with the same seed and record a new, equivalent version.
**Rollback**: `python -m recsysctl models activate <version>` or the admin page.
"""

from __future__ import annotations

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, task

from dags.dag_defaults import DAG_ARGS, spark_job

ALS_MODEL = Asset(name="als_model")

# A manual run (admin trigger) has no data interval: it trains up to the day it was asked for.
WINDOW_END = "{{ (dag_run.data_interval_end or dag_run.run_after) | ds }}"


@dag(
    dag_id="als_training",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    tags=["models", "spark", "nightly"],
    doc_md=__doc__,
    params={
        "window_anchor": Param(
            "setting",
            type="string",
            enum=["setting", "today", "newest_event"],
            values_display={
                "setting": "as RECSYS_ALS_WINDOW_ANCHOR says",
                "today": "the run's day",
                "newest_event": "the day after the newest event in the lake",
            },
            description="Where this run's training window ends (a history that ended long"
            " ago needs newest_event).",
        )
    },
    **DAG_ARGS,
)
def als_training():
    land = spark_job("land_events", "land_events")
    train = spark_job(
        "train",
        "als_training",
        application_args=[
            "--end",
            WINDOW_END,
            "--run-id",
            "{{ run_id }}",
            "--window-anchor",
            "{{ params.window_anchor }}",
        ],
        driver_memory="3g",
    )

    @task(outlets=[ALS_MODEL])
    def publish(run_id: str | None = None) -> int:
        """Emit the asset only when this run's model went live."""
        from airflow.exceptions import AirflowSkipException

        from recsys import db
        from recsys.model_registry import run_of_dag_run
        from recsys.settings import load_settings

        with db.connect(load_settings()) as conn:
            run = run_of_dag_run(conn, run_id)
        if run is None:
            raise RuntimeError(f"no training recorded for run {run_id}")
        if run["status"] != "passed":
            raise AirflowSkipException(
                f"model version {run['version']} was {run['status']}: {run['reason']}"
            )
        return run["version"]

    land >> train >> publish()


als_training()
