"""Land the Kafka topic ``music_log`` into the Parquet lake, exactly once; and the
recommendation answers' topic (``rec_impressions``) beside it.

Reads:  Kafka topic (settings.kafka_topic), from the checkpointed offsets on.
Writes: ``<lake>/raw/listen_events/date=YYYY-MM-DD/`` (event day, UTC) with the Kafka
        partition, offset and append time of each event; messages that do not parse as
        the event contract go to ``<lake>/raw/rejected_events/`` with their raw value, so
        nothing is dropped silently.

Exactly once: Spark's file sink commits each micro-batch with the Kafka offsets in the
checkpoint, and repeated event_ids (a client retrying after a lost acknowledgement) are
dropped within ``--dedup-window``. Impressions land the same way into
``<lake>/raw/impressions/date=YYYY-MM-DD/`` (serving day), each ``rec_id`` once; the topic
is subscribed by pattern, so a deployment that has not created it yet lands its events as
before.

    spark-submit --jars <connectors> spark_jobs/land_events.py [--continuous]
"""

from __future__ import annotations

import argparse
import re
import sys

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from recsys.events import ACTIONS, REQUIRED_FIELDS, SOURCES
from recsys.lake import events_path, impressions_path, rejected_path
from recsys.settings import Settings, load_settings
from spark_jobs.common.lake import EVENT_SCHEMA, IMPRESSION_SCHEMA
from spark_jobs.common.session import spark_session

# The stateful de-duplication's partitioning is fixed by the first checkpoint; changing it
# needs a new checkpoint folder.
STATE_PARTITIONS = "4"


def parse_kafka_records(records: DataFrame) -> DataFrame:
    """Kafka rows -> contract fields plus Kafka coordinates, ``raw_value`` and ``is_valid``."""
    value = F.col("value").cast("string")
    parsed = F.from_json(value, EVENT_SCHEMA)
    return records.select(
        parsed.alias("e"),
        value.alias("raw_value"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ).select(
        "e.*",
        "raw_value",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        _is_valid().alias("is_valid"),
    )


def _is_valid() -> Column:
    """The contract as the API enforces it; anything else reached Kafka by another road."""
    e = F.col("e")
    complete = [e[name].isNotNull() for name in (*REQUIRED_FIELDS, "event_id", "source")]
    rules = [
        *complete,
        e["action"].isin(*ACTIONS),
        e["source"].isin(*SOURCES),
        e["duration"] >= 0,
        e["total_duration"] > 0,
        e["duration"] <= e["total_duration"],
    ]
    condition = rules[0]
    for rule in rules[1:]:
        condition = condition & rule
    return F.coalesce(condition, F.lit(False))


def to_lake_rows(parsed: DataFrame) -> DataFrame:
    """Valid events in the lake's schema, with their UTC event day."""
    day = F.to_date(F.timestamp_millis(F.col("timestamp")))
    return parsed.where("is_valid").select(
        *[F.col(f.name) for f in EVENT_SCHEMA.fields],
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        day.alias("date"),
    )


def to_rejected_rows(parsed: DataFrame) -> DataFrame:
    return parsed.where(~F.col("is_valid")).select(
        "raw_value",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        F.to_date("kafka_timestamp").alias("date"),
    )


def read_topic(spark: SparkSession, settings: Settings, max_offsets: int) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .load()
    )


def read_impressions_topic(spark: SparkSession, settings: Settings, max_offsets: int):
    # by pattern: a missing topic is no topic yet, not an error
    pattern = "^" + re.escape(settings.kafka_impressions_topic) + "$"
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
        .option("subscribePattern", pattern)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .load()
    )


def impression_rows(records: DataFrame) -> DataFrame:
    """Kafka rows -> impressions in the lake's schema, with their UTC serving day; a
    message without its rec_id, listener or songs is no impression and is left out."""
    parsed = F.from_json(F.col("value").cast("string"), IMPRESSION_SCHEMA)
    return (
        records.select(
            parsed.alias("i"),
            F.col("partition").alias("kafka_partition"),
            F.col("offset").alias("kafka_offset"),
            F.col("timestamp").alias("kafka_timestamp"),
        )
        .where(
            F.col("i.rec_id").isNotNull()
            & F.col("i.user_id").isNotNull()
            & F.col("i.song_ids").isNotNull()
            & F.col("i.served_at").isNotNull()
        )
        .select(
            "i.*",
            "kafka_partition",
            "kafka_offset",
            "kafka_timestamp",
            F.to_date(F.timestamp_millis(F.col("i.served_at"))).alias("date"),
        )
    )


def start_queries(spark: SparkSession, settings: Settings, args) -> list:
    parsed = parse_kafka_records(read_topic(spark, settings, args.max_offsets_per_batch))
    events = (
        to_lake_rows(parsed)
        .withWatermark("kafka_timestamp", args.dedup_window)
        .dropDuplicatesWithinWatermark(["event_id"])
    )
    checkpoints = settings.checkpoint_uri.rstrip("/")
    trigger = {"processingTime": "10 seconds"} if args.continuous else {"availableNow": True}
    landed = (
        events.writeStream.format("parquet")
        .partitionBy("date")
        .option("path", events_path(settings.lake_uri))
        .option("checkpointLocation", f"{checkpoints}/land_events")
        .trigger(**trigger)
        .queryName("land_events")
        .start()
    )
    rejected = (
        to_rejected_rows(parsed)
        .writeStream.format("parquet")
        .partitionBy("date")
        .option("path", rejected_path(settings.lake_uri))
        .option("checkpointLocation", f"{checkpoints}/land_rejected_events")
        .trigger(**trigger)
        .queryName("land_rejected_events")
        .start()
    )
    shown = (
        impression_rows(read_impressions_topic(spark, settings, args.max_offsets_per_batch))
        .withWatermark("kafka_timestamp", args.dedup_window)
        .dropDuplicatesWithinWatermark(["rec_id"])
        .writeStream.format("parquet")
        .partitionBy("date")
        .option("path", impressions_path(settings.lake_uri))
        .option("checkpointLocation", f"{checkpoints}/land_impressions")
        .trigger(**trigger)
        .queryName("land_impressions")
        .start()
    )
    return [landed, rejected, shown]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="keep running with a 10 s trigger instead of landing what is there",
    )
    parser.add_argument(
        "--dedup-window",
        default="1 hour",
        help="how long after an event a repeat of its event_id is dropped",
    )
    parser.add_argument("--max-offsets-per-batch", type=int, default=2_000_000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    spark = spark_session(
        "land_events", settings, **{"spark.sql.shuffle.partitions": STATE_PARTITIONS}
    )
    queries = start_queries(spark, settings, args)
    for query in queries:
        query.awaitTermination()
    for query in queries:
        progress = query.lastProgress or {}
        print(
            f"{query.name}: last batch {progress.get('batchId')}, "
            f"rows {progress.get('numInputRows', 0)}"
        )


if __name__ == "__main__":
    main()
