"""
### play_counters — every 15 minutes

1. **land_events**: Spark Structured Streaming (`availableNow`) lands everything new on the
   Kafka topic `music_log` into the Parquet lake (`raw/listen_events/date=YYYY-MM-DD/`),
   exactly once (checkpointed offsets, repeated `event_id`s dropped).
2. **count_plays**: counts the events Kafka appended within this run's data interval into
   `analytics.counter_runs` (the ledger), `analytics.song_interval_stats`,
   `analytics.song_daily_stats` and `catalog.songs.plays_cumulative`.

**Idempotent**: a re-run, retry or backfill of an interval replaces that interval's counts and
re-derives the totals from the ledger, so numbers never double. Late events (old client
timestamps) count in the interval they arrived in, under their own event day.

**Backfill**: `airflow backfill create --dag-id play_counters --from-date ... --to-date ...`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag

from dags.dag_defaults import DAG_ARGS, spark_job


@dag(
    dag_id="play_counters",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    tags=["counters", "spark", "15min"],
    doc_md=__doc__,
    **DAG_ARGS,
)
def play_counters():
    land = spark_job("land_events", "land_events")
    count = spark_job(
        "count_plays",
        "play_counters",
        application_args=[
            "--start",
            "{{ data_interval_start.isoformat() }}",
            "--end",
            "{{ data_interval_end.isoformat() }}",
        ],
    )
    land >> count


play_counters()
