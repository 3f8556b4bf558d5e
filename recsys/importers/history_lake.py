"""An imported history's way into the lake (``raw/imported_events``), exactly once.

1. ``Spill``: while the file is parsed, its listens (the lake columns that differ from
   listen to listen, event ids already set) go to Arrow stream files in the run's staging
   folder, one per event month, so no more than a month of listens is ever held.
2. ``stage_month``: a month at a time, each event id once (the first row of the file
   wins; the others are counted as duplicates), then the ids already in the lake (in either
   dataset, read from the month's days' partitions only: the ``event_id`` column) are left
   out, and each day's new rows are written to the staging folder as one Parquet file named
   after the import and its rows (``import-<key>-<day>-<event ids digest>.parquet``).
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

LAKE_COLUMNS = lake.LAKE_COLUMNS
IMPORTED_SOURCE = "real_user"  # the contract's source: imported listens are real ones
# The lake's columns an import leaves empty (no Kafka record, no playback, no recommendation).
_EMPTY_COLUMNS = (
    "playback_id", "rec_id", "surface", "position", "kafka_partition", "kafka_offset",
)  # fmt: skip
# What the spill holds: the lake's columns that differ from listen to listen, the file's row
# (line or array index) and the event id's first 64 bits. The rest of a lake row (the
# source, the empty columns, the commit time) is added as the rows are staged.
SPILL_COLUMNS = pa.schema(
    [f for f in LAKE_COLUMNS if f.name not in (*_EMPTY_COLUMNS, "source", "kafka_timestamp")]
    + [pa.field("row", pa.int64()), pa.field("id_key", pa.int64())]
)
_DAY_MS = 86_400_000


def local_root(lake_uri: str) -> Path:
    """The lake's folder (the importer writes with local renames)."""
    if "://" in lake_uri and not lake_uri.startswith("file://"):
        raise ValueError(f"the history importer needs a lake folder, not {lake_uri}")
    return Path(lake_uri.removeprefix("file://"))


class Spill:
    """Listens by event month in Arrow stream files under ``folder``; each record batch
    holds one write's rows of that month in file order, so a month read back and sorted by
    day (stably) has each day's rows in file order."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}

    def write(self, table: pa.Table) -> None:
        """Spill ``table`` (``SPILL_COLUMNS``, in file order)."""
        months = event_days(table).astype("datetime64[D]").astype("datetime64[M]")
        # months since 1970 fit 16 bits to the year 4700: a stable sort of them is a radix sort
        order = np.argsort(months.astype(np.int64).astype(np.int16), kind="stable")
        table, months = table.take(order), months[order]
        for month, start, end in _runs(months):
            self._writer(str(month)).write_table(table.slice(start, end - start))

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

    @staticmethod
    def read_month(folders: list[Path], month: str) -> pa.Table:
        """The month's listens from every spill folder (the parts of one file, in file
        order), not copied, in file order: a re-run stages the same bytes however the
        parts ran."""
        batches = []
        for folder in folders:
            path = Path(folder) / f"{month}.arrows"
            if path.exists():
                with pa.memory_map(str(path)) as source:
                    batches.extend(pa.ipc.open_stream(source))
        return pa.Table.from_batches(batches, SPILL_COLUMNS)

    @staticmethod
    def remove_month(folders: list[Path], month: str) -> None:
        """Delete a staged month's spill files: not read again, their pages need never
        reach the disk."""
        for folder in folders:
            (Path(folder) / f"{month}.arrows").unlink(missing_ok=True)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def event_days(table: pa.Table) -> np.ndarray:
    """Each row's UTC day, as days since 1970-01-01 (int64)."""
    return np.floor_divide(table["timestamp"].to_numpy(), _DAY_MS)


def _runs(keys: np.ndarray):
    """(key, start, end) of each run of equal keys."""
    if not len(keys):
        return
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        yield keys[start], start, end


@dataclass
class Staged:
    """What staging found and wrote."""

    duplicates: int = 0
    duplicate_rows: list[tuple[int, int]] = field(default_factory=list)  # (row, first row)
    already_imported: int = 0
    files: list[tuple[Path, Path]] = field(default_factory=list)  # (staged, published)
    rows: int = 0
    days: list[date] = field(default_factory=list)

    def add(self, other: Staged) -> None:
        self.duplicates += other.duplicates
        self.duplicate_rows = sorted(self.duplicate_rows + other.duplicate_rows)[:20]
        self.already_imported += other.already_imported
        self.files += other.files
        self.rows += other.rows
        self.days += other.days


def stage_month(
    rows: pa.Table,
    root: Path,
    staging: Path,
    key: str,
    committed_at: datetime,
    staged: Staged,
) -> None:
    """Stage one spilled month's new rows (``Spill.read_month``; see the module's
    docstring), adding to ``staged``: the month is worked on whole (a repeated id repeats
    its timestamp, so it repeats within one day) and copied once, sorted by day, then
    written a day at a time."""
    if not rows.num_rows:
        return
    keep = _first_of_each_id(rows, staged)
    days = event_days(rows)
    month_days = [date.fromordinal(_EPOCH_ORDINAL + int(d)) for d in np.unique(days)]
    existing = existing_ids(root, month_days)
    if len(existing):
        known = pc.is_in(rows["event_id"], value_set=existing)
        known = known.to_numpy(zero_copy_only=False) & keep
        staged.already_imported += int(known.sum())
        keep &= ~known
    # a month's days fit 16 bits: a stable sort of them is a radix sort
    order = np.argsort((days - days.min()).astype(np.int16), kind="stable")
    order = order[keep[order]]
    new = _lake_rows(rows.take(order), committed_at)
    for day, start, end in _runs(days[order]):
        day = date.fromordinal(_EPOCH_ORDINAL + int(day))
        _stage_day(new.slice(start, end - start), day, staging, root, key, staged)


def _first_of_each_id(rows: pa.Table, staged: Staged) -> np.ndarray:
    """Which rows of ``rows`` (in file order) to keep so that each event id is there once:
    its first row (the others counted, the first 20 noted as (row, first row)). Rows are
    told apart by their id's 64-bit key; a row whose key an earlier row has is compared
    with it in full."""
    first_at, keep = _first_rows(rows["id_key"])
    if keep.all():
        return keep
    ids, again = rows["event_id"], np.flatnonzero(~keep)
    if not pc.all(pc.equal(ids.take(again), ids.take(first_at[again]))).as_py():
        first_at, keep = _first_rows(ids)  # two ids share 64 bits: tell them apart in full
        again = np.flatnonzero(~keep)
    numbers = rows["row"].to_numpy()
    staged.duplicates += len(again)
    noted = again[: max(0, 20 - len(staged.duplicate_rows))]
    staged.duplicate_rows += [(int(numbers[i]), int(numbers[first_at[i]])) for i in noted]
    return keep


def _first_rows(values: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the row where its value first appears, and whether it is that row.
    (Dictionary codes are given in order of first appearance: a row holds a value's first
    appearance where its code exceeds every code before it.)"""
    codes = pc.dictionary_encode(values.combine_chunks()).indices.to_numpy()
    first = np.ones(len(codes), bool)
    first[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return np.flatnonzero(first)[codes], first


def existing_ids(root: Path, days: list[date]) -> pa.Array:
    """The event ids of ``days`` already in the lake, landed or imported."""
    tables = []
    for day in days:
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


def _lake_rows(rows: pa.Table, committed_at: datetime) -> pa.Table:
    """The spilled ``rows`` as the lake's rows: imported real listens, the columns of
    Kafka, playback and recommendations empty, ``kafka_timestamp`` the commit time."""
    n = rows.num_rows
    added = {
        "source": pa.repeat(pa.scalar(IMPORTED_SOURCE), n),
        "kafka_timestamp": pa.repeat(pa.scalar(committed_at, pa.timestamp("us", tz="UTC")), n),
        **{name: pa.nulls(n, LAKE_COLUMNS.field(name).type) for name in _EMPTY_COLUMNS},
    }
    return pa.table(
        [rows[f.name] if f.name in SPILL_COLUMNS.names else added[f.name] for f in LAKE_COLUMNS],
        schema=LAKE_COLUMNS,
    )


def _stage_day(table: pa.Table, day: date, staging: Path, root: Path, key, staged) -> None:
    staged_file = staging / "days" / f"{day.isoformat()}.parquet"
    staged_file.parent.mkdir(exist_ok=True)
    buffer = pa.BufferOutputStream()
    # event ids never repeat: a dictionary of them would be wasted work
    pq.write_table(table, buffer, compression=_COMPRESSION, use_dictionary=_DICTIONARY_COLUMNS)
    with open(staged_file, "wb") as f:
        f.write(buffer.getvalue())
    name = f"import-{key[:16]}-{day.isoformat()}-{_ids_digest(table['event_id'])}.parquet"
    published = Path(lake.imported_events_path(str(root))) / f"date={day.isoformat()}" / name
    staged.files.append((staged_file, published))
    staged.rows += table.num_rows
    staged.days.append(day)


def _ids_digest(ids: pa.ChunkedArray) -> str:
    """A digest of the day's event ids, in order: the same rows, the same file name, from
    any run (the commit time aside)."""
    ids = ids.combine_chunks()
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset : ids.offset + len(ids) + 1]
    data = memoryview(ids.buffers()[2])[offsets[0] : offsets[-1]]
    return hashlib.sha256(data).hexdigest()[:12]


_DICTIONARY_COLUMNS = ["user_id", "track_id", "action", "source"]
# random hex does not compress: only time would be spent on the event ids
_COMPRESSION = {f.name: "none" if f.name == "event_id" else "snappy" for f in LAKE_COLUMNS}


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
        # a killed run's worker processes hold this shared until they have exited
        with open(f"{self.staging}.workers", "a") as workers:
            fcntl.flock(workers, fcntl.LOCK_EX)
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
