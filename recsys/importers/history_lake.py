"""An imported history's way into the lake (``raw/imported_events``), exactly once.

1. ``Spill``: while the file is parsed, its listens (lake columns, event ids already set)
   go to Arrow stream files in the run's staging folder, one per event month, so no more
   than a month of listens is ever held.
2. ``stage_month``: per month, each event id once (the first row of the file wins; the
   others are counted as duplicates), then per day the ids already in the lake (in either
   dataset, read from that day's partitions only: the ``event_id`` column) are left out,
   and the day's new rows are written to the staging folder as one Parquet file named
   after the import and its content (``import-<key>-<day>-<file digest>.parquet``).
3. ``publish``: each staged file is renamed into ``date=<day>/`` (atomic), after the
   manifest (``_imports/<key>.json``) has recorded the import's commit time.

A run killed anywhere and started again removes its staging folder, finds what it had
published already (the same ids: left out), reuses the commit time its manifest recorded,
and publishes the rest: the lake ends as after one clean run. Needs a lake on a filesystem
with atomic rename (a local or network folder).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recsys import lake

# The lake's columns (spark_jobs.common.lake.LAKE_SCHEMA) but the partition column ``date``.
LAKE_COLUMNS = pa.schema(
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
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
    ]
)
# What the spill holds: the lake's columns known before the commit time, the file's row
# (line or array index), the event day, and the event id's first 64 bits.
SPILL_COLUMNS = pa.schema(
    [f for f in LAKE_COLUMNS if f.name != "kafka_timestamp"]
    + [pa.field("row", pa.int64()), pa.field("day", pa.date32()), pa.field("id_key", pa.int64())]
)


def local_root(lake_uri: str) -> Path:
    """The lake's folder (the importer writes with local renames)."""
    if "://" in lake_uri and not lake_uri.startswith("file://"):
        raise ValueError(f"the history importer needs a lake folder, not {lake_uri}")
    return Path(lake_uri.removeprefix("file://"))


class Spill:
    """Listens by event month in Arrow stream files under ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}

    def write(self, table: pa.Table) -> None:
        table = table.combine_chunks()
        days = pc.cast(table["day"], pa.int32()).to_numpy().astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        for month, rows in _groups(months):
            self._writer(str(month)).write_table(table.take(rows))

    def _writer(self, month: str):
        if month not in self._writers:
            sink = pa.OSFile(str(self.folder / f"{month}.arrows"), "wb")
            self._writers[month] = pa.ipc.new_stream(sink, SPILL_COLUMNS)
        return self._writers[month]

    def close(self) -> list[str]:
        """Close every file; the months spilled, in order."""
        for writer in self._writers.values():
            writer.close()
        return sorted(self._writers)

    def read(self, month: str) -> pa.Table:
        with pa.OSFile(str(self.folder / f"{month}.arrows"), "rb") as source:
            return pa.ipc.open_stream(source).read_all()


def _groups(keys: np.ndarray):
    """(key, row indices) for each distinct key, in key order; rows keep their order."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(order))
    for start, end in zip(starts, ends, strict=True):
        yield ordered[start], order[start:end]


@dataclass
class Staged:
    """What staging found and wrote."""

    duplicates: int = 0
    duplicate_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, first row)
    already_imported: int = 0
    files: list[tuple[Path, Path]] = field(default_factory=list)  # (staged, published)
    rows: int = 0
    days: list[date] = field(default_factory=list)


def stage_month(
    month: pa.Table, root: Path, staging: Path, key: str, committed_at: datetime, staged: Staged
) -> None:
    """Stage one spilled month's new rows (see the module's docstring), adding to ``staged``.
    Rows keep the file's order, so a re-run stages the same bytes."""
    month = _first_of_each_id(month.combine_chunks(), staged)
    days = pc.cast(month["day"], pa.int32()).to_numpy().astype("datetime64[D]")
    order = np.argsort(days, kind="stable")
    month, days = month.take(order), days[order]
    starts = np.flatnonzero(np.concatenate(([True], days[1:] != days[:-1])))
    for start, end in zip(starts, np.append(starts[1:], len(days)), strict=True):
        rows, day = month.slice(start, end - start), days[start].item()
        known = pc.is_in(rows["event_id"], value_set=existing_ids(root, day))
        staged.already_imported += pc.sum(known).as_py() or 0
        new = rows.filter(pc.invert(known))
        if new.num_rows:
            _stage_day(new, day, staging, root, key, committed_at, staged)


def _first_of_each_id(month: pa.Table, staged: Staged) -> pa.Table:
    """``month`` with each event id once: the file's first row of it (the others counted,
    the first 20 noted as (row, first row)). Ids are sorted by their 64-bit key; rows whose
    key repeats are compared in full."""
    keys, rows = month["id_key"].to_numpy(), month["row"].to_numpy()
    order = np.lexsort((rows, keys))  # by key, then by row: each id's first row leads
    same_key = np.flatnonzero(keys[order[1:]] == keys[order[:-1]]) + 1
    if not len(same_key):
        return month
    ids = month["event_id"].combine_chunks()
    equal = pc.equal(ids.take(order[same_key]), ids.take(order[same_key - 1]))
    if not pc.all(equal).as_py():  # two ids share 64 bits: sort by the ids themselves
        keys = pc.dictionary_encode(ids).indices.to_numpy()
        order = np.lexsort((rows, keys))
        same_key = np.flatnonzero(keys[order[1:]] == keys[order[:-1]]) + 1
    again = np.zeros(len(order), bool)
    again[same_key] = True
    staged.duplicates += int(again.sum())
    lead = np.maximum.accumulate(np.where(again, 0, np.arange(len(order))))
    for position in np.flatnonzero(again)[: max(0, 20 - len(staged.duplicate_rows))]:
        staged.duplicate_rows.append((int(rows[order[position]]), int(rows[order[lead[position]]])))
    repeated = np.zeros(len(order), bool)
    repeated[order] = again
    return month.filter(pa.array(~repeated))


def existing_ids(root: Path, day: date) -> pa.Array:
    """The event ids of ``day`` already in the lake, landed or imported."""
    tables = []
    for dataset in (lake.events_path(str(root)), lake.imported_events_path(str(root))):
        folder = Path(dataset) / f"date={day.isoformat()}"
        if not folder.is_dir():
            continue
        for part in sorted(folder.iterdir()):
            if part.suffix == ".parquet" and not part.name.startswith(("_", ".")):
                tables.append(pq.read_table(part, columns=["event_id"])["event_id"])
    if not tables:
        return pa.array([], pa.string())
    return pa.chunked_array(tables, pa.string()).combine_chunks()


def _stage_day(rows, day: date, staging: Path, root: Path, key, committed_at, staged) -> None:
    commit = pa.repeat(pa.scalar(committed_at, pa.timestamp("us", tz="UTC")), rows.num_rows)
    table = rows.select([f.name for f in LAKE_COLUMNS if f.name != "kafka_timestamp"])
    table = table.append_column("kafka_timestamp", commit).cast(LAKE_COLUMNS)
    staged_file = staging / "days" / f"{day.isoformat()}.parquet"
    staged_file.parent.mkdir(parents=True, exist_ok=True)
    # event ids never repeat: a dictionary of them would be wasted work
    pq.write_table(table, staged_file, compression="snappy", use_dictionary=_DICTIONARY_COLUMNS)
    with open(staged_file, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    name = f"import-{key[:16]}-{day.isoformat()}-{digest[:12]}.parquet"
    published = Path(lake.imported_events_path(str(root))) / f"date={day.isoformat()}" / name
    staged.files.append((staged_file, published))
    staged.rows += table.num_rows
    staged.days.append(day)


_DICTIONARY_COLUMNS = ["user_id", "track_id", "action", "source"]


def publish(staged: Staged) -> None:
    """Rename every staged file into its day's partition (each rename atomic)."""
    for staged_file, published in staged.files:
        published.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged_file, published)


class ImportRun:
    """One import's bookkeeping in the lake: its staging folder (emptied at the start, held
    under a lock so the same import never runs twice at once) and its manifest."""

    def __init__(self, root: Path, run: str):
        self.root = root
        self.staging = Path(lake.import_staging_path(str(root), run))
        self._lock_file = None

    def __enter__(self) -> ImportRun:
        self.staging.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(f"{self.staging}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"the same import is running already ({self.staging})") from None
        shutil.rmtree(self.staging, ignore_errors=True)  # a killed run's leftovers
        self.staging.mkdir(parents=True)
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._lock_file.close()

    def manifest_file(self, key: str) -> Path:
        return Path(lake.import_manifests_path(str(self.root))) / f"{key}.json"

    def read_manifest(self, key: str) -> dict | None:
        path = self.manifest_file(key)
        return json.loads(path.read_text()) if path.exists() else None

    def write_manifest(self, key: str, manifest: dict) -> None:
        path = self.manifest_file(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        os.replace(partial, path)

    def commit_time(self, key: str) -> datetime:
        """The commit time of an unfinished earlier run of this import (killed while
        publishing: its rows carry it), else now."""
        manifest = self.read_manifest(key)
        if manifest and manifest.get("state") == "publishing":
            return datetime.fromisoformat(manifest["committed_at"])
        return datetime.now(UTC)
