"""The Parquet lake's layout and schema: the one place jobs learn where events live."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

# The contract's fields as they arrive on Kafka (JSON).
EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("track_id", T.StringType()),
        T.StructField("timestamp", T.LongType()),
        T.StructField("action", T.StringType()),
        T.StructField("duration", T.IntegerType()),
        T.StructField("total_duration", T.IntegerType()),
        T.StructField("source", T.StringType()),
        # optional: the events of one playback share it (lake files written before it: null)
        T.StructField("playback_id", T.StringType()),
    ]
)

# What the lake adds: where the event sat in Kafka, when the broker appended it, its day.
LAKE_SCHEMA = T.StructType(
    [
        *EVENT_SCHEMA.fields,
        T.StructField("kafka_partition", T.IntegerType()),
        T.StructField("kafka_offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("date", T.DateType()),
    ]
)


def events_path(lake_uri: str) -> str:
    return f"{lake_uri.rstrip('/')}/raw/listen_events"


def rejected_path(lake_uri: str) -> str:
    return f"{lake_uri.rstrip('/')}/raw/rejected_events"


def read_events(spark: SparkSession, lake_uri: str) -> DataFrame:
    """All landed events. Reading the folder root lets Spark honour the streaming sink's
    commit log, so files of an unfinished batch are never seen."""
    try:
        return spark.read.schema(LAKE_SCHEMA).parquet(events_path(lake_uri))
    except Exception as err:  # an empty lake: no folder yet
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            return spark.createDataFrame([], LAKE_SCHEMA)
        raise
