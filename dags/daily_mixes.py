"""
### daily_mixes — nightly, after als_training

For the mix day D that just ended (the run's data interval, 04:00 to 04:00 UTC, so the
night's trending resync at 00:30 and ALS training at 02:00 come first):

1. **land_events**: lands what is new on Kafka, so D is complete in the lake.
2. **build**: for every listener with an event in the last `RECSYS_MIXES_ACTIVE_DAYS` (30)
   event days, up to `RECSYS_MIXES_PER_LISTENER` (4) mixes of `RECSYS_MIXES_SIZE` (30)
   songs: a *daily mix* per taste cluster of the songs they played (familiar songs and
   near neighbours they never heard) and a *discovery* mix of songs they never heard,
   nearest to their taste; each titled by its genres, with up to 4 cover images. Never a
   song the listener disliked or an admin took down. D's rows and the switch of the served
   day happen in one transaction (`mixes.active_day`): listeners see yesterday's mixes or
   today's, whole. It also records what listeners did on D with the mixes of D - 1
   (`analytics.mix_engagement`; views in docs/analysts.md).

**Idempotent**: every draw is seeded by (listener, D) and a re-run of D uses the model
version D was first built from while it is kept, so a re-run or a backfill gives identical
mixes (a song taken down or disliked since is left out). A backfill of an older day never
moves listeners back to it.

**Backfill**: `python -m recsysctl airflow backfill create --dag-id daily_mixes
--from-date 2026-10-01 --to-date 2026-10-07 --reprocess-behavior completed`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from dags.dag_defaults import DAG_ARGS, spark_job


@dag(
    dag_id="daily_mixes",
    schedule=CronDataIntervalTimetable("0 4 * * *", timezone="UTC"),
    tags=["mixes", "spark", "nightly"],
    doc_md=__doc__,
    **DAG_ARGS,
)
def daily_mixes():
    land = spark_job("land_events", "land_events")
    build = spark_job(
        "build",
        "daily_mixes",
        application_args=["--day", "{{ data_interval_start | ds }}", "--run-id", "{{ run_id }}"],
        driver_memory="3g",
    )
    land >> build


daily_mixes()
