"""Where everything lives in the Parquet lake: the one module that builds lake paths.

Under the lake root (``RECSYS_LAKE_URI``, a folder or any URI Spark can write):

    raw/listen_events/date=YYYY-MM-DD/    the landed events, by event day (UTC); the
                                          landing job's file sink keeps its commit log in
                                          raw/listen_events/_spark_metadata
    raw/rejected_events/date=YYYY-MM-DD/  the messages the landing job could not accept,
                                          with their raw value

Pure string building, no Spark: the jobs, the tooling and the tests all ask here. (The
streaming checkpoints are not the lake's: they live under ``RECSYS_CHECKPOINT_URI``.)
"""

from __future__ import annotations


def _root(lake_uri: str) -> str:
    return lake_uri.rstrip("/")


def events_path(lake_uri: str) -> str:
    """The landed listening events (read as one dataset; partitioned by ``date``)."""
    return f"{_root(lake_uri)}/raw/listen_events"


def rejected_path(lake_uri: str) -> str:
    """The messages rejected by the landing job, kept for inspection."""
    return f"{_root(lake_uri)}/raw/rejected_events"
