"""The Parquet lake as Spark sees it: the events' schema on Kafka and in the lake, and the
reader of every listening event the warehouse counts.

Reads:  the landed events under ``recsys.lake.events_path`` and the imported histories under
        ``recsys.lake.imported_events_path`` (the lake's layout is there).
Writes: nothing.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from recsys.lake import events_path, imported_events_path, impressions_path

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
        # optional: the recommendation answer the song was played from (recsys.impressions),
        # where it was played from, its position there (earlier lake files: null)
        T.StructField("rec_id", T.StringType()),
        T.StructField("surface", T.StringType()),
        T.StructField("position", T.IntegerType()),
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

# The fields a lake row's checksum hashes (play_stats.lake_checksums): those of the events
# counted before the attribution fields existed, so the checksums the counters recorded for
# their intervals stay valid; the attribution fields count nothing.
CHECKSUM_FIELDS = tuple(
    n for n in LAKE_SCHEMA.fieldNames() if n not in ("rec_id", "surface", "position")
)

# One recommendation answer as it arrives on Kafka (recsys.impressions.IMPRESSION_FIELDS).
IMPRESSION_SCHEMA = T.StructType(
    [
        T.StructField("rec_id", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("surface", T.StringType()),
        T.StructField("seed_song_id", T.StringType()),
        T.StructField("model_version", T.LongType()),
        T.StructField("mode", T.StringType()),
        T.StructField("experiment", T.StringType()),
        T.StructField("experiment_arm", T.StringType()),
        T.StructField("song_ids", T.ArrayType(T.StringType())),
        T.StructField("positions", T.ArrayType(T.IntegerType())),
        T.StructField("served_at", T.LongType()),
    ]
)
IMPRESSION_LAKE_SCHEMA = T.StructType(
    [
        *IMPRESSION_SCHEMA.fields,
        T.StructField("kafka_partition", T.IntegerType()),
        T.StructField("kafka_offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("date", T.DateType()),
    ]
)


def read_impressions(spark: SparkSession, lake_uri: str) -> DataFrame:
    """Every landed impression (IMPRESSION_LAKE_SCHEMA), through the sink's commit log."""
    found = _read(spark, impressions_path(lake_uri), IMPRESSION_LAKE_SCHEMA)
    return found if found is not None else spark.createDataFrame([], IMPRESSION_LAKE_SCHEMA)


def read_events(spark: SparkSession, lake_uri: str) -> DataFrame:
    """Every listening event: the landed ones and the imported histories, as one DataFrame
    (LAKE_SCHEMA; imported rows have no Kafka partition or offset, and their
    ``kafka_timestamp`` is their import's commit time, so the counters count them in the
    interval they were imported in, like events Kafka appended then).

    Reading the landed folder's root lets Spark honour the streaming sink's commit log, so
    files of an unfinished batch are never seen; the importer publishes whole files by
    atomic rename, so its folder needs no log. A lake without imports reads only the
    landed events (one cheap listing finds no imported folder)."""
    landed = _read(spark, events_path(lake_uri))
    imported = _read(spark, imported_events_path(lake_uri))
    if imported is None:
        return landed if landed is not None else spark.createDataFrame([], LAKE_SCHEMA)
    return imported if landed is None else landed.unionByName(imported)


def _read(spark: SparkSession, path: str, schema=LAKE_SCHEMA) -> DataFrame | None:
    """The dataset at ``path``, or None when there is no folder yet."""
    try:
        return spark.read.schema(schema).parquet(path)
    except Exception as err:
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            return None
        raise
