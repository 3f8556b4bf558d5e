"""
### trending_resync — nightly

For the day D that just ended (the run's data interval):

1. **land_events**: lands what is new on Kafka, so the day is complete in the lake.
2. **resync**: recomputes `plays_7d` of every song from the lake over the 7 event days ending
   with D, writes D's ranked snapshot to `analytics.trending_history` (rank, plays_7d,
   listeners_7d, previous rank, change), sets `catalog.songs.plays_7d` (when D is the newest
   snapshot), checks the 15-minute counters of the window against the lake and re-counts any
   interval that drifted. What it found is in `analytics.resync_runs` (normally zero drift).

**The check**: each counted interval is verified by its checksums (the lake rows appended in
it and its ledger rows, as play_counters recorded them); only an interval whose checksums
changed is counted again from the lake and compared row by row. To count every interval of
the window again, trigger the DAG with the `full_check` param on (Trigger DAG, with config).

**Idempotent**: everything is recomputed from the lake and the ledger, so a re-run or a
backfill of any day, in any order, gives identical tables. A late event is counted in its
event day at the next resync.

**Backfill**: `python -m recsysctl airflow backfill create --dag-id trending_resync
--from-date 2026-10-01 --to-date 2026-10-31 --reprocess-behavior completed`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag

from dags.dag_defaults import DAG_ARGS, spark_job


@dag(
    dag_id="trending_resync",
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone="UTC"),
    tags=["trending", "spark", "nightly"],
    doc_md=__doc__,
    params={
        "full_check": Param(
            False,
            type="boolean",
            description="Count every interval of the window again and compare it with its"
            " ledger, not only those whose checksums changed (slower).",
        )
    },
    **DAG_ARGS,
)
def trending_resync():
    land = spark_job("land_events", "land_events")
    resync = spark_job(
        "resync",
        "trending_resync",
        application_args=[
            "--day",
            "{{ data_interval_start | ds }}",
            "--check",
            "{{ 'full' if params.full_check else 'changed' }}",
        ],
    )
    land >> resync


trending_resync()
