"""Import one listening-history file into the lake, exactly once (``import_history``).

Reads:  the file (streamed: ``reading``), the catalog's songs and artists, and the event
        ids of the lake partitions of the days the file covers.
Writes: ``catalog.users`` (listeners missing), with ``create_missing`` the songs and
        artists missing; ``raw/imported_events/date=D/`` (the new listens, lake columns,
        ``kafka_timestamp`` = the import's commit time) and the import's manifest; with
        ``skip_invalid`` a rejects file (JSON Lines: each bad row and why).

Path: parser -> ``matching.match`` -> ``resolve_plays`` (action, seconds heard, length) ->
deterministic event ids -> ``history_lake`` (spill by month, then per day: ids once, ids
already in the lake left out, stage, publish). Listens go to the lake directly as Arrow,
not through the API and Kafka: a 10-million-row history would be 10 million validations
and acknowledgements, and the lake is what every batch job reads. The counters count the
imported rows in the 15-minute interval holding the commit time (see docs/importing.md
for the backfill of the imported days).

By default a file with any invalid row writes nothing (no lake rows, no users, no songs).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from recsys import db
from recsys.importers import (
    history_catalog,
    interactions_csv,
    lastfm,
    listenbrainz,
    spotify,
)
from recsys.importers.history_lake import (
    SPILL_COLUMNS,
    ImportRun,
    Spill,
    Staged,
    local_root,
    publish,
    stage_month,
)
from recsys.importers.listens import BATCH_ROWS, FileError, ParseContext, RowError, now_ms
from recsys.importers.matching import KEY_SEPARATOR, CatalogIndex, match
from recsys.importers.reading import Source
from recsys.settings import Settings

FORMATS = {
    "lastfm": lastfm,
    "listenbrainz": listenbrainz,
    "spotify": spotify,
    "csv": interactions_csv,
}
# Fixed forever: every imported listen's event id is uuid5(EVENT_NAMESPACE,
# "<source>|<user>|<timestamp ms>|<track key>").
EVENT_NAMESPACE = uuid.UUID("d7252df1-f10a-43d0-8e63-fe248aae4292")
IMPORTED_SOURCE = "real_user"  # the contract's source: imported listens are real ones
ERRORS_KEPT = 20


@dataclass(frozen=True)
class ImportOptions:
    format: str
    user: str | None = None
    skip_invalid: bool = False
    create_missing: bool = False
    rejects_dir: str | None = None

    def key(self) -> str:
        """What of the options changes what an import writes."""
        return f"{self.format}|{self.user or ''}|{self.skip_invalid}|{self.create_missing}"


@dataclass
class ImportSummary:
    """What one file's import did. rows_read = rejected + left out + unmatched + matched +
    created_rows; matched + created_rows = imported + duplicates + already_imported."""

    file: str
    format: str
    rows_read: int = 0
    rejected: int = 0
    left_out: dict = field(default_factory=dict)
    matched: int = 0
    created_rows: int = 0
    unmatched: int = 0
    duplicates: int = 0
    already_imported: int = 0
    imported: int = 0
    created: dict = field(default_factory=dict)  # new users, artists, songs
    top_unmatched: list = field(default_factory=list)  # (artist, title, rows)
    errors: list = field(default_factory=list)  # the first RowErrors
    duplicate_rows: list = field(default_factory=list)  # (row, first row)
    key: str = ""
    committed_at: datetime | None = None
    first_day: date | None = None
    last_day: date | None = None
    rejects_file: str | None = None
    written: bool = False

    @property
    def failed(self) -> bool:
        return not self.written


def event_ids(source: str, users: pa.Array, timestamps: pa.Array, keys: pa.Array) -> pa.Array:
    """uuid5(EVENT_NAMESPACE, "<source>|<user>|<timestamp ms>|<track key>") of each row,
    in canonical form: the same listen has the same id in any file, any run."""
    return event_ids_and_keys(source, users, timestamps, keys)[0]


def event_ids_and_keys(source: str, users, timestamps, keys) -> tuple[pa.Array, pa.Array]:
    """``event_ids``, and each id's first 64 bits as an int64 (a cheap key to find
    repeated ids by; equal keys are then compared in full).

    One SHA-1 per row in Python (the only per-row step); the UUIDs' version and variant
    bits and their text are set for the whole batch at once."""
    names = pc.binary_join_element_wise(
        pa.scalar(source), users, pc.cast(timestamps, pa.string()), keys, "|"
    )
    prefix, sha1 = EVENT_NAMESPACE.bytes, hashlib.sha1
    names = pc.cast(names, pa.binary()).to_pylist()
    digests = b"".join([sha1(prefix + name).digest() for name in names])
    raw = np.frombuffer(digests, np.uint8).reshape(-1, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_digits = np.frombuffer(raw.tobytes().hex().encode(), np.uint8).reshape(-1, 32)
    text = np.full((len(raw), 36), ord("-"), np.uint8)
    text[:, _UUID_DIGIT_AT] = hex_digits
    offsets = np.arange(len(raw) + 1, dtype=np.int32) * 36
    ids = pa.Array.from_buffers(
        pa.string(), len(raw), [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )
    return ids, pa.array(raw[:, :8].copy().view(np.int64).ravel())


# Where a UUID's 32 hex digits sit in its 36 characters (8-4-4-4-12).
_UUID_DIGIT_AT = [i for i in range(36) if i not in (8, 13, 18, 23)]


def resolve_plays(batch: pa.Table, catalog_seconds: pa.Array, play_min: int):
    """(action, seconds heard, length) of each matched listen: the length is the row's, else
    the catalog's; a row heard whole (``seconds`` null) was heard for the length, and such a
    listen shorter than ``play_min`` is a complete, so a scrobble is always one play;
    seconds heard never exceed the length."""
    total = pc.coalesce(batch["total_seconds"], catalog_seconds)
    whole = pc.is_null(batch["seconds"])
    seconds = pc.min_element_wise(pc.coalesce(batch["seconds"], total), total)
    short_whole = pc.and_(whole, pc.less(total, play_min))
    to_complete = pc.and_(short_whole, pc.equal(batch["action"], "listen"))
    action = pc.if_else(to_complete, pa.scalar("complete"), batch["action"])
    return action, pc.cast(seconds, pa.int32()), pc.cast(total, pa.int32())


class _Importer:
    """The state of one file's import while its batches stream through."""

    def __init__(self, settings: Settings, options: ImportOptions, index: CatalogIndex, spill):
        self.settings, self.options, self.index, self.spill = settings, options, index, spill
        self.source_name = FORMATS[options.format].SOURCE
        self.users: set[str] = set()
        self.unmatched: Counter = Counter()
        self.unmatched_names: dict[str, tuple] = {}
        self.days: set[date] = set()

    def add(self, batch: pa.Table, summary: ImportSummary) -> None:
        found = match(batch, self.index, self.options.create_missing)
        matched = pc.is_valid(found.track_id)
        self._count_unmatched(batch, found, pc.invert(matched), summary)
        created = pc.sum(found.created).as_py() or 0
        summary.created_rows += created
        summary.matched += (pc.sum(matched).as_py() or 0) - created
        rows, track = batch.filter(matched).combine_chunks(), found.track_id.filter(matched)
        if not rows.num_rows:
            return
        action, seconds, total = resolve_plays(
            rows, found.catalog_seconds.filter(matched), self.settings.play_min_seconds
        )
        keys = pc.coalesce(
            rows["track_key"],
            found.name_key.filter(matched),
            pc.binary_join_element_wise(rows["artist"], rows["title"], KEY_SEPARATOR),
        )
        day = pc.cast(pc.cast(rows["timestamp"], pa.timestamp("ms")), pa.date32())
        n = rows.num_rows
        ids, id_keys = event_ids_and_keys(
            self.source_name, rows["user_id"], rows["timestamp"], keys
        )
        table = pa.table(
            {
                "event_id": ids,
                "user_id": rows["user_id"],
                "track_id": track,
                "timestamp": rows["timestamp"],
                "action": action,
                "duration": seconds,
                "total_duration": total,
                "source": pa.array([IMPORTED_SOURCE] * n, pa.string()),
                "playback_id": pa.nulls(n, pa.string()),
                "kafka_partition": pa.nulls(n, pa.int32()),
                "kafka_offset": pa.nulls(n, pa.int64()),
                "row": rows["row"],
                "day": day,
                "id_key": id_keys,
            },
            schema=SPILL_COLUMNS,
        )
        self.spill.write(table)
        self.users.update(pc.unique(rows["user_id"]).to_pylist())
        self.days.update(pc.unique(day).to_pylist())

    def _count_unmatched(self, batch, found, unmatched, summary: ImportSummary) -> None:
        count = pc.sum(unmatched).as_py() or 0
        if not count:
            return
        summary.unmatched += count
        rows = batch.filter(unmatched)
        keys = pc.coalesce(
            found.name_key.filter(unmatched),
            pc.binary_join_element_wise("song id ", rows["song_id"], ""),
        )
        for entry in pc.value_counts(keys).to_pylist():
            self.unmatched[entry["values"]] += entry["counts"]
        for key in pc.unique(keys).to_pylist():
            if key not in self.unmatched_names:
                i = pc.index(keys, key).as_py()
                artist, title = rows["artist"][i].as_py(), rows["title"][i].as_py()
                self.unmatched_names[key] = (artist, title) if title else (None, key)

    def top_unmatched(self, n: int = 20) -> list[tuple]:
        return [(*self.unmatched_names[k], c) for k, c in self.unmatched.most_common(n)]


def import_history(
    settings: Settings,
    path: str,
    options: ImportOptions,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import the history file ``path`` (see the module's docstring); ``progress(bytes
    read, rows read)`` is called as the file streams."""
    summary = ImportSummary(file=str(path), format=options.format)
    root = local_root(settings.lake_uri)
    run = hashlib.sha256(f"{Path(path).resolve()}|{options.key()}".encode()).hexdigest()[:16]
    with db.connect(settings) as conn:
        index = history_catalog.load_index(conn)
    with ImportRun(root, run) as import_run:
        spill = Spill(import_run.staging / "spill")
        importer = _Importer(settings, options, index, spill)
        rejects = _Rejects(path, options)
        try:
            digest = _read(path, options, importer, summary, rejects, progress, settings)
        except FileError as err:
            summary.rejected += 1
            summary.errors.append(err.error)
            return summary
        finally:
            months = spill.close()
            rejects.close()
        summary.top_unmatched = importer.top_unmatched()
        summary.rejects_file = rejects.path if rejects.count else None
        if summary.rejected and not options.skip_invalid:
            return summary
        summary.key = hashlib.sha256(f"{digest}|{options.key()}".encode()).hexdigest()
        with db.connect(settings) as conn:
            summary.created = history_catalog.write_catalog(
                conn, importer.users, list(index.created.values())
            )
        _stage_and_publish(import_run, spill, months, summary, importer)
    return summary


def _read(path, options, importer, summary, rejects, progress, settings) -> str:
    """Parse the file into the importer; the file's SHA-256."""
    context = ParseContext(now_ms(), options.user, settings.play_min_seconds)
    parser = FORMATS[options.format].parse
    pending: list[pa.Table] = []
    with Source(path) as source:
        for piece in parser(source, context):
            if isinstance(piece, RowError):
                summary.rejected += 1
                summary.rows_read += 1
                if len(summary.errors) < ERRORS_KEPT:
                    summary.errors.append(piece)
                rejects.write(piece)
                continue
            summary.rows_read += piece.num_rows
            pending.append(piece)
            if sum(t.num_rows for t in pending) >= BATCH_ROWS:
                importer.add(pa.concat_tables(pending), summary)
                pending = []
                if progress:
                    progress(source.bytes_read, summary.rows_read)
        if pending:
            importer.add(pa.concat_tables(pending), summary)
        if progress:
            progress(source.bytes_read, summary.rows_read)
        summary.left_out = dict(context.left_out)
        summary.rows_read += sum(context.left_out.values())
        return source.digest()


def _stage_and_publish(import_run, spill, months, summary, importer) -> None:
    committed_at = import_run.commit_time(summary.key)
    summary.committed_at = committed_at
    manifest = {
        "key": summary.key,
        "file": str(Path(summary.file).resolve()),
        "format": summary.format,
        "committed_at": committed_at.isoformat(),
        "state": "publishing",
    }
    import_run.write_manifest(summary.key, manifest)
    staged = Staged()
    for month in months:
        stage_month(
            spill.read(month), import_run.root, import_run.staging, summary.key,
            committed_at, staged,
        )  # fmt: skip
    publish(staged)
    summary.duplicates, summary.duplicate_rows = staged.duplicates, staged.duplicate_rows
    summary.already_imported, summary.imported = staged.already_imported, staged.rows
    days = sorted(importer.days)
    summary.first_day, summary.last_day = (days[0], days[-1]) if days else (None, None)
    summary.written = True
    import_run.write_manifest(
        summary.key,
        {
            **manifest,
            "state": "published",
            "rows_imported": staged.rows,
            "first_day": summary.first_day,
            "last_day": summary.last_day,
            "days_written": sorted({d.isoformat() for d in staged.days}),
        },
    )


class _Rejects:
    """The rejects file (``--skip-invalid``): each bad row and its reason, one JSON line."""

    def __init__(self, path: str, options: ImportOptions):
        folder = Path(options.rejects_dir) if options.rejects_dir else Path(path).parent
        self.path = str(folder / f"{Path(path).name}.rejects.jsonl")
        self.enabled = options.skip_invalid
        self.count = 0
        self._file = None

    def write(self, error: RowError) -> None:
        if not self.enabled:
            return
        if self._file is None:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._file.write(orjson.dumps(error.as_dict()) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
