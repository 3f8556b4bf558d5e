"""
### similar_songs — whenever a model goes live or lyrics are embedded, and daily

**refresh**: runs the similar-songs endpoint's own candidate search (nearest ALS items and
nearest lyrics, with both exact scores) for every served song that has an item vector or a
lyrics vector, and keeps each song's candidates in `model.similar_lists`. The endpoint
(`GET /api/v1/songs/<id>/similar`) then reads one row instead of searching two HNSW indexes.
The lists are served only while the model version, the lyrics vectors and the search
settings are the ones they were computed under: until this DAG has run after a change, the
endpoint searches as before, with the same answers. Each run is a row of
`model.similar_list_runs` (the versions it ran under, songs listed, status).

**When**: on the `als_model` asset (a new model went live) or the `lyrics_embeddings` asset
(a lyrics run finished), and at 05:00 UTC for what no asset announces (a rollback, a song
restored). A run whose lists are already current does nothing.

**Idempotent**: a run computes under one (model version, lyrics version) pair and publishes in
one transaction only if that pair is still served; a retry or a second run gives the same
lists. A run killed half-way is never served; the next run clears it. There is nothing to
backfill: the lists depend on the vectors, not on a data interval.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from dags.dag_defaults import DAG_ARGS

ALS_MODEL = Asset(name="als_model")
LYRICS_EMBEDDINGS = Asset(name="lyrics_embeddings")


@dag(
    dag_id="similar_songs",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone="UTC"),
        assets=(ALS_MODEL | LYRICS_EMBEDDINGS),
    ),
    tags=["models", "serving", "daily"],
    doc_md=__doc__,
    **DAG_ARGS,
)
def similar_songs():
    @task(execution_timeout=timedelta(hours=2))
    def refresh(run_id: str | None = None) -> dict:
        """Compute and publish the lists unless they are current."""
        from dataclasses import asdict

        from recsys.model_registry.similar_lists import refresh as refresh_lists
        from recsys.settings import load_settings

        return asdict(refresh_lists(load_settings(), dag_run_id=run_id))

    refresh()


similar_songs()
