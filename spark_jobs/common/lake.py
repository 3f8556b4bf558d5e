"""The Parquet lake as Spark sees it: the events' schema on Kafka and in the lake, and the
reader of the landed events.

Reads:  the landed events under ``recsys.lake.events_path`` (the lake's layout is there).
Writes: nothing.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from recsys.lake import events_path

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


def read_events(spark: SparkSession, lake_uri: str) -> DataFrame:
    """All landed events. Reading the folder root lets Spark honour the streaming sink's
    commit log, so files of an unfinished batch are never seen."""
    try:
        return spark.read.schema(LAKE_SCHEMA).parquet(events_path(lake_uri))
    except Exception as err:  # an empty lake: no folder yet
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            return spark.createDataFrame([], LAKE_SCHEMA)
        raise
