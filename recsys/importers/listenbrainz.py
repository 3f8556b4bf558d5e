"""A ListenBrainz listens export: JSON Lines (one listen a line) or a JSON array of listens.

    {"listened_at": 1700000000, "user_name": "someone",
     "track_metadata": {"artist_name": "...", "track_name": "...", "release_name": "...",
                        "additional_info": {"recording_mbid": "...", "duration_ms": 215000}}}

A listen is a scrobble, so a play: a ``listen`` heard whole (``seconds`` null: its length is
``duration_ms`` when the listen gives it, else the catalog's). ``recording_mbid`` (from
``additional_info``, else ``mbid_mapping``) matches ``catalog.songs.mbid``, else the names
match. The listener is ``--user`` when given, else the listen's ``user_name``. The event id's
track key is the normalised artist and title.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from recsys.events import MAX_DURATION_S
from recsys.importers.json_rows import FieldProblem, integer, items, text
from recsys.importers.listens import (
    Columns,
    ParseContext,
    RowError,
)
from recsys.importers.reading import Source

SOURCE = "listenbrainz"
FIELDS = {"user": "user_name", "timestamp": "listened_at"}


def parse(source: Source, context: ParseContext) -> Iterator[pa.Table | RowError]:
    batch = Columns(source, context, FIELDS)
    for entry in items(source):
        if isinstance(entry, RowError):
            batch.reject(_row_number(entry.where), entry)
        else:
            where, raw, item = entry
            row = _row_number(where)
            try:
                batch.add(where, raw or item, row=row, **_listen(item, context))
            except FieldProblem as problem:
                batch.reject(
                    row, source.error(where, problem.field, problem.reason, raw or _dump(item))
                )
        if batch.full():
            yield from batch.flush()
    yield from batch.flush()


def _listen(item, context: ParseContext) -> dict:
    if not isinstance(item, dict):
        raise FieldProblem("(row)", "must be a JSON object (a listen)")
    user = context.user or text(item, "user_name", required=False)
    if user is None:
        raise FieldProblem("user_name", "missing (or pass --user)")
    listened_at = integer(item, "listened_at", unit=" (epoch seconds)")
    info = "track_metadata.additional_info"
    mbid = text(item, f"{info}.recording_mbid", required=False) or text(
        item, "track_metadata.mbid_mapping.recording_mbid", required=False
    )
    duration_ms = integer(item, f"{info}.duration_ms", required=False, unit=" (milliseconds)")
    total = None if duration_ms is None else round(duration_ms / 1000)
    if total is None:
        total = integer(item, f"{info}.duration", required=False, unit=" (seconds)")
    if total is not None and total > MAX_DURATION_S:
        raise FieldProblem(f"{info}.duration_ms", f"{total:,} s is more than a day")
    return {
        "user_id": user,
        "timestamp": listened_at * 1000,
        "artist": text(item, "track_metadata.artist_name"),
        "title": text(item, "track_metadata.track_name"),
        "recording_mbid": mbid,
        "action": "listen",
        "total_seconds": total or None,  # 0: unknown
    }


def _row_number(where: str) -> int:
    return int(where.removeprefix("line ").strip("$[]"))


def _dump(item) -> str:
    return item if isinstance(item, str) else orjson.dumps(item, default=str).decode()
