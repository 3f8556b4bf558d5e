"""Where everything lives in the Parquet lake: the one module that builds lake paths.

Under the lake root (``RECSYS_LAKE_URI``, a folder or any URI Spark can write):

    raw/listen_events/date=YYYY-MM-DD/    the landed events, by event day (UTC); the
                                          landing job's file sink keeps its commit log in
                                          raw/listen_events/_spark_metadata
    raw/rejected_events/date=YYYY-MM-DD/  the messages the landing job could not accept,
                                          with their raw value
    raw/imported_events/date=YYYY-MM-DD/  listening histories imported from files (Last.fm,
                                          ListenBrainz, Spotify, CSV), the landed events'
                                          columns with no Kafka partition or offset; one
                                          file per import and day, published by atomic
                                          rename (no commit log: every file there is whole)
    raw/imported_events/_imports/         one manifest per imported file (its commit time,
                                          days and counts)
    raw/imported_events/_staging/<run>/   an import's files before they are published
    raw/impressions/date=YYYY-MM-DD/      the recommendation answers served (one row per
                                          answer: recsys.impressions), by serving day
                                          (UTC), landed like the events

Pure string building, no Spark: the jobs, the tooling and the tests all ask here. (The
streaming checkpoints are not the lake's: they live under ``RECSYS_CHECKPOINT_URI``.) The
event files' columns as Arrow types are here too, for whatever writes them without Spark
(the history importer, the benchmarks); Spark's own schema is spark_jobs.common.lake's.
"""

from __future__ import annotations

import pyarrow as pa

# The event contract's fields with the lake's types (spark_jobs.common.lake.EVENT_SCHEMA).
EVENT_COLUMNS = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("track_id", pa.string()),
        ("timestamp", pa.int64()),
        ("action", pa.string()),
        ("duration", pa.int32()),
        ("total_duration", pa.int32()),
        ("source", pa.string()),
        ("playback_id", pa.string()),
        ("rec_id", pa.string()),
        ("surface", pa.string()),
        ("position", pa.int32()),
    ]
)
# A lake file's columns (spark_jobs.common.lake.LAKE_SCHEMA) but the partition column ``date``.
LAKE_COLUMNS = pa.schema(
    [
        *EVENT_COLUMNS,
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
    ]
)


def _root(lake_uri: str) -> str:
    return lake_uri.rstrip("/")


def events_path(lake_uri: str) -> str:
    """The landed listening events (read as one dataset; partitioned by ``date``)."""
    return f"{_root(lake_uri)}/raw/listen_events"


def imported_events_path(lake_uri: str) -> str:
    """The imported listening histories (read as one dataset; partitioned by ``date``; its
    ``_``-prefixed folders are the importer's bookkeeping, hidden from readers)."""
    return f"{_root(lake_uri)}/raw/imported_events"


def import_manifests_path(lake_uri: str) -> str:
    """The imports' manifests, one JSON file per imported file."""
    return f"{imported_events_path(lake_uri)}/_imports"


def import_staging_path(lake_uri: str, run: str) -> str:
    """Where the import ``run`` writes its files before publishing them."""
    return f"{imported_events_path(lake_uri)}/_staging/{run}"


def impressions_path(lake_uri: str) -> str:
    """The landed impressions (recsys.impressions), one row per recommendation answer."""
    return f"{_root(lake_uri)}/raw/impressions"


def rejected_path(lake_uri: str) -> str:
    """The messages rejected by the landing job, kept for inspection."""
    return f"{_root(lake_uri)}/raw/rejected_events"
