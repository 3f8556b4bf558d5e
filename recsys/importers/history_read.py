"""The first pass of a history import: a file (or one byte range of it) parsed, matched and
given event ids, into a month-by-month spill (``read_part``).

Per batch of parsed listens: ``matching.match`` finds the songs, ``resolve_plays`` the
action, seconds heard and length, ``event_ids_and_keys`` the ids, and the rows go to the
part's ``history_lake.Spill``. What the part saw (counts, unmatched tracks, listeners, days,
songs to create, the first errors) comes back as a ``PartResult``; with ``--skip-invalid``
its bad rows go to the part's rejects file. Runs in the importing process, or in a worker
process per byte range (``history_parallel``). No database: the catalog comes in as a
``CatalogIndex``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from recsys.importers import interactions_csv, lastfm, listenbrainz, spotify
from recsys.importers.history_lake import SPILL_COLUMNS, Spill
from recsys.importers.listens import BATCH_ROWS, FileError, ParseContext, RowError
from recsys.importers.matching import KEY_SEPARATOR, CatalogIndex, CreatedSong, match
from recsys.importers.reading import Source

FORMATS = {
    "lastfm": lastfm,
    "listenbrainz": listenbrainz,
    "spotify": spotify,
    "csv": interactions_csv,
}
# Fixed forever: every imported listen's event id is uuid5(EVENT_NAMESPACE,
# "<source>|<user>|<timestamp ms>|<track key>").
EVENT_NAMESPACE = uuid.UUID("d7252df1-f10a-43d0-8e63-fe248aae4292")
ERRORS_KEPT = 20
# Where a UUID's 32 hex digits sit in its 36 characters (8-4-4-4-12).
_UUID_DIGIT_AT = [i for i in range(36) if i not in (8, 13, 18, 23)]


def event_ids(source: str, users: pa.Array, timestamps: pa.Array, keys: pa.Array) -> pa.Array:
    """uuid5(EVENT_NAMESPACE, "<source>|<user>|<timestamp ms>|<track key>") of each row,
    in canonical form: the same listen has the same id in any file, any run."""
    return event_ids_and_keys(source, users, timestamps, keys)[0]


def event_ids_and_keys(source: str, users, timestamps, keys) -> tuple[pa.Array, pa.Array]:
    """``event_ids``, and each id's first 64 bits as an int64 (a cheap key to find
    repeated ids by; equal keys are then compared in full).

    One SHA-1 per row in Python (the only per-row step); the UUIDs' version and variant
    bits and their text are set for the whole batch at once."""
    # uuid5 hashes the namespace's 16 bytes, then the name: joined here by Arrow, not per row
    names = pc.binary_join_element_wise(
        pa.scalar(EVENT_NAMESPACE.bytes + source.encode(), pa.binary()),
        *(pc.cast(c, pa.binary()) for c in (users, pc.cast(timestamps, pa.string()), keys)),
        b"|",
    )
    sha1 = hashlib.sha1
    digests = b"".join([sha1(name).digest() for name in names.to_pylist()])
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
    return ids, pa.array(raw[:, :8].copy().view(np.int64).ravel(), pa.int64())


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


@dataclass
class PartJob:
    """One part of a file to read: bytes [start, end) (end None: to the end), whose first
    line is ``first_line`` (None: count it), into the spill folder ``spill``."""

    path: str
    format: str
    user: str | None
    create_missing: bool
    skip_invalid: bool
    now_ms: int
    play_min_seconds: int
    spill: str
    rejects: str
    start: int = 0
    end: int | None = None
    first_line: int | None = 1


@dataclass
class PartResult:
    """What one part of the file held. rows_read = rejected + left out + unmatched +
    matched + created_rows."""

    rows_read: int = 0
    rejected: int = 0
    matched: int = 0
    created_rows: int = 0
    unmatched: int = 0
    left_out: Counter = field(default_factory=Counter)
    unmatched_tracks: Counter = field(default_factory=Counter)
    unmatched_names: dict = field(default_factory=dict)
    users: set = field(default_factory=set)
    days: set = field(default_factory=set)
    created: dict[str, CreatedSong] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)  # the first ERRORS_KEPT
    months: list[str] = field(default_factory=list)
    digest: str = ""  # the whole file's SHA-256, when the part is the whole file
    file_error: RowError | None = None

    def merge(self, other: PartResult) -> None:
        """Add a later part of the same file."""
        for name in ("rows_read", "rejected", "matched", "created_rows", "unmatched"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.left_out.update(other.left_out)
        self.unmatched_tracks.update(other.unmatched_tracks)
        for key, names in other.unmatched_names.items():
            self.unmatched_names.setdefault(key, names)
        self.users |= other.users
        self.days |= other.days
        for song_id, song in other.created.items():
            self.created.setdefault(song_id, song)
        self.errors = (self.errors + other.errors)[:ERRORS_KEPT]
        self.months = sorted(set(self.months) | set(other.months))
        self.file_error = self.file_error or other.file_error

    def top_unmatched(self, n: int = 20) -> list[tuple]:
        """(artist, title, listens) of the ``n`` most frequent unmatched tracks."""
        ranked = sorted(self.unmatched_tracks.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [(*self.unmatched_names[key], count) for key, count in ranked]


def read_part(job: PartJob, index: CatalogIndex, progress: Callable | None = None) -> PartResult:
    """Read the part ``job`` names (see the module's docstring); ``progress(bytes read,
    rows read)`` after each batch."""
    result = PartResult()
    part = _Part(job, index, result)
    try:
        with Source(job.path, job.start, job.end, job.first_line) as source:
            part.read(source, progress)
            if job.start == 0 and job.end is None:
                result.digest = source.digest()
    except FileError as err:
        result.file_error = err.error
    finally:
        result.months = part.spill.close()
        part.close_rejects()
    result.created = dict(index.created)
    return result


class _Part:
    def __init__(self, job: PartJob, index: CatalogIndex, result: PartResult):
        self.job, self.index, self.result = job, index, result
        self.spill = Spill(Path(job.spill))
        self.source_name = FORMATS[job.format].SOURCE
        self._rejects = None

    def read(self, source: Source, progress) -> None:
        job, result = self.job, self.result
        context = ParseContext(job.now_ms, job.user, job.play_min_seconds, result.left_out)
        pending: list[pa.Table] = []
        for piece in FORMATS[job.format].parse(source, context):
            if isinstance(piece, RowError):
                self.reject(piece)
                continue
            result.rows_read += piece.num_rows
            pending.append(piece)
            if sum(t.num_rows for t in pending) >= BATCH_ROWS:
                self.add(pa.concat_tables(pending))
                pending = []
                if progress:
                    progress(source.bytes_read, result.rows_read)
        if pending:
            self.add(pa.concat_tables(pending))
        result.rows_read += sum(result.left_out.values())
        if progress:
            progress(source.bytes_read, result.rows_read)

    def reject(self, error: RowError) -> None:
        self.result.rejected += 1
        self.result.rows_read += 1
        if len(self.result.errors) < ERRORS_KEPT:
            self.result.errors.append(error)
        if self.job.skip_invalid:
            if self._rejects is None:
                self._rejects = open(self.job.rejects, "wb")  # noqa: SIM115 (close_rejects)
            self._rejects.write(orjson.dumps(error.as_dict()) + b"\n")

    def close_rejects(self) -> None:
        if self._rejects is not None:
            self._rejects.close()

    def add(self, batch: pa.Table) -> None:
        found = match(batch, self.index, self.job.create_missing)
        matched = pc.is_valid(found.track_id)
        self._count_unmatched(batch, found, pc.invert(matched))
        created = pc.sum(found.created).as_py() or 0
        self.result.created_rows += created
        self.result.matched += (pc.sum(matched).as_py() or 0) - created
        rows, track = batch.filter(matched).combine_chunks(), found.track_id.filter(matched)
        if not rows.num_rows:
            return
        action, seconds, total = resolve_plays(
            rows, found.catalog_seconds.filter(matched), self.job.play_min_seconds
        )
        keys = pc.coalesce(rows["track_key"], found.name_key.filter(matched))
        if keys.null_count:
            keys = pc.coalesce(
                keys, pc.binary_join_element_wise(rows["artist"], rows["title"], KEY_SEPARATOR)
            )
        day = pc.cast(pc.cast(rows["timestamp"], pa.timestamp("ms")), pa.date32())
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
                "row": rows["row"],
                "id_key": id_keys,
            },
            schema=SPILL_COLUMNS,
        )
        self.spill.write(table)
        self.result.users.update(pc.unique(rows["user_id"]).to_pylist())
        self.result.days.update(pc.unique(day).to_pylist())

    def _count_unmatched(self, batch, found, unmatched) -> None:
        count = pc.sum(unmatched).as_py() or 0
        if not count:
            return
        self.result.unmatched += count
        rows = batch.filter(unmatched)
        keys = pc.coalesce(
            found.name_key.filter(unmatched),
            pc.binary_join_element_wise("song id ", rows["song_id"], ""),
            pc.binary_join_element_wise(rows["artist"], rows["title"], KEY_SEPARATOR),
        )
        encoded = pc.dictionary_encode(keys.combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques, first_rows, counts = np.unique(codes, return_index=True, return_counts=True)
        names = self.result.unmatched_names
        for key, row, n in zip(
            encoded.dictionary.take(pa.array(uniques)).to_pylist(), first_rows, counts, strict=True
        ):
            self.result.unmatched_tracks[key] += int(n)
            if key not in names:
                artist, title = rows["artist"][int(row)].as_py(), rows["title"][int(row)].as_py()
                names[key] = (artist, title) if title else (None, key)


def file_days(result: PartResult) -> tuple[date | None, date | None]:
    days = sorted(result.days)
    return (days[0], days[-1]) if days else (None, None)
