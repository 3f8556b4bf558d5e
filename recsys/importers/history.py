"""Import one listening-history file into the lake, exactly once (``import_history``).

Reads:  the file (streamed: ``reading``), the catalog's songs and artists, and the event
        ids of the lake partitions of the days the file covers.
Writes: ``catalog.users`` (listeners missing), with ``create_missing`` the songs and
        artists missing; ``raw/imported_events/date=D/`` (the new listens, lake columns,
        ``kafka_timestamp`` = the import's commit time) and the import's manifest; with
        ``skip_invalid`` a rejects file (JSON Lines: each bad row and why).

Path: parser -> ``matching.match`` -> ``resolve_plays`` (action, seconds heard, length) ->
deterministic event ids -> spill by month (``history_read``), then per day: ids once, ids
already in the lake left out, stage, publish (``history_lake``). A Last.fm file of 16 MB or
more is read in byte ranges and staged a month at a time on every core
(``history_parallel``). Listens go to the lake directly as Arrow,
not through the API and Kafka: a 10-million-row history would be 10 million validations
and acknowledgements, and the lake is what every batch job reads. The counters count the
imported rows in the 15-minute interval holding the commit time (see docs/importing.md
for the backfill of the imported days).

By default a file with any invalid row writes nothing (no lake rows, no users, no songs).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from recsys import db
from recsys.importers import history_catalog
from recsys.importers.history_lake import ImportRun, local_root, publish
from recsys.importers.history_parallel import Workers, read_parts, stage_months
from recsys.importers.history_read import (
    ERRORS_KEPT,
    PartJob,
    PartResult,
    file_days,
    read_part,
)
from recsys.importers.listens import now_ms
from recsys.settings import Settings

# Formats whose files can be cut at any line into parts read at once.
SPLITTABLE = ("lastfm",)
PARALLEL_MIN_BYTES = 16 << 20


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


def workers_for(path: str, fmt: str) -> int:
    """Processes to read and stage the file with: every core for a large splittable file."""
    if fmt not in SPLITTABLE or os.path.getsize(path) < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def import_history(
    settings: Settings,
    path: str,
    options: ImportOptions,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ImportSummary:
    """Import the history file ``path`` (see the module's docstring); ``progress(bytes
    read, rows read)`` is called as the file streams. ``workers``: processes to use
    (default: ``workers_for``)."""
    summary = ImportSummary(file=str(path), format=options.format)
    workers = workers or workers_for(path, options.format)
    root = local_root(settings.lake_uri)
    run = hashlib.sha256(f"{Path(path).resolve()}|{options.key()}".encode()).hexdigest()[:16]
    with ImportRun(root, run) as import_run, ExitStack() as stack:
        pool = None
        if workers > 1:  # spawned first: they start while the catalog loads
            pool = stack.enter_context(Workers(workers, import_run.staging))
        with db.connect(settings) as conn:
            index = history_catalog.load_index(conn)
        job = PartJob(
            path=str(path), format=options.format, user=options.user,
            create_missing=options.create_missing, skip_invalid=options.skip_invalid,
            now_ms=now_ms(), play_min_seconds=settings.play_min_seconds,
            spill=str(import_run.staging / "spill"), rejects=str(import_run.staging / "rejects"),
        )  # fmt: skip
        if pool is not None:
            # the whole file's digest, here while the workers read their ranges
            with ThreadPoolExecutor(1) as hashing:
                digest = hashing.submit(_file_digest, path)
                parts = read_parts(job, index, pool, progress)
                digest = digest.result()
        else:
            parts = [read_part(job, index, progress)]
            digest = parts[0].digest
        result = parts[0]
        for part in parts[1:]:
            result.merge(part)
        _summarise(summary, result)
        rejects = [job.rejects]
        if workers > 1:
            rejects = [f"{job.rejects}.part-{k}" for k in range(len(parts))]
        summary.rejects_file = _gather_rejects(path, options, rejects)
        if result.file_error or (summary.rejected and not options.skip_invalid):
            return summary
        summary.key = hashlib.sha256(f"{digest}|{options.key()}".encode()).hexdigest()
        with db.connect(settings) as conn:
            summary.created = history_catalog.write_catalog(
                conn, result.users, list(result.created.values())
            )
        folders = [Path(job.spill)]
        if workers > 1:
            folders = [Path(job.spill) / f"part-{k}" for k in range(len(parts))]
        _stage_and_publish(import_run, folders, result, summary, pool)
    return summary


def _summarise(summary: ImportSummary, result: PartResult) -> None:
    for name in ("rows_read", "rejected", "matched", "created_rows", "unmatched"):
        setattr(summary, name, getattr(result, name))
    summary.left_out = dict(result.left_out)
    summary.top_unmatched = result.top_unmatched()
    summary.errors = list(result.errors[:ERRORS_KEPT])
    if result.file_error:
        summary.errors = [*summary.errors, result.file_error][-ERRORS_KEPT:]
        summary.rejected += 1
    summary.first_day, summary.last_day = file_days(result)


def _file_digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _gather_rejects(path: str, options: ImportOptions, parts: list[str]) -> str | None:
    """The parts' rejected rows, in file order, as one rejects file (``--skip-invalid``)."""
    found = [Path(p) for p in parts if Path(p).exists()]
    if not options.skip_invalid or not found:
        return None
    folder = Path(options.rejects_dir) if options.rejects_dir else Path(path).parent
    target = folder / f"{Path(path).name}.rejects.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for part in found:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
    return str(target)


def _stage_and_publish(import_run, folders, result: PartResult, summary, pool) -> None:
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
    staged = stage_months(
        result.months, folders, import_run.root, import_run.staging, summary.key,
        committed_at, pool,
    )  # fmt: skip
    publish(staged)
    summary.duplicates, summary.duplicate_rows = staged.duplicates, staged.duplicate_rows
    summary.already_imported, summary.imported = staged.already_imported, staged.rows
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
