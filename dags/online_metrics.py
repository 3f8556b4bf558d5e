"""
### online_metrics — daily

For the day D whose answers have had their attribution window (the run starts at D+1 06:45
UTC, after RECSYS_ATTRIBUTION_REC_ID_HOURS = 6 h):

1. **land_events**: lands what is new on Kafka (events and impressions), so D's answers and
   what listeners did with them are in the lake.
2. **metrics**: attributes each event to the recommendation answer that caused it (the
   answer it names by `rec_id`; for an event naming no list, the listener's latest answer
   that showed the song in the 30 minutes before) and replaces D's rows of
   `analytics.online_metrics`: per surface, model version and experiment arm, impressions,
   songs shown, attributed plays, completes, skips, likes, dislikes and seconds listened.
   Analysts read the rates in `analytics.online_metrics_daily` and
   `analytics.online_metrics_by_model` (docs/analysts.md).

**Idempotent**: D's rows are computed from the lake alone and replaced in one transaction,
so a re-run or a backfill of any day gives identical rows.

**Backfill**: `python -m recsysctl airflow backfill create --dag-id online_metrics
--from-date 2026-10-01 --to-date 2026-10-31 --reprocess-behavior completed`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from dags.dag_defaults import DAG_ARGS, spark_job


@dag(
    dag_id="online_metrics",
    schedule=CronDataIntervalTimetable("45 6 * * *", timezone="UTC"),
    tags=["online-metrics", "experiments", "spark", "daily"],
    doc_md=__doc__,
    **DAG_ARGS,
)
def online_metrics():
    land = spark_job("land_events", "land_events")
    metrics = spark_job(
        "metrics", "online_metrics", application_args=["--day", "{{ data_interval_start | ds }}"]
    )
    land >> metrics


online_metrics()
