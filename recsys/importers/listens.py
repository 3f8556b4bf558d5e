"""What every history parser produces: canonical listens, in Arrow batches, and row errors.

A parser streams its file and yields ``pa.Table`` batches in ``LISTEN_SCHEMA`` (one row per
listen, in file order) and ``RowError``s (one per bad row, naming the file, the line or JSON
path, and the field). Columnar batches rather than an object per listen: a 10-million-row
history must cost a few microseconds a row end to end, and per-row Python objects alone
would spend that.

The checks every format shares (``check``) are here, vectorised: a user id the event
contract accepts, a timestamp from 2000-01-01 to a few minutes ahead of now, durations from
0 to a day. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from recsys.events import MAX_DURATION_S, MAX_ID_LENGTH, MIN_TIMESTAMP_MS

# One imported listen. ``seconds`` null means heard whole (a scrobble, a rating): the seconds
# heard are then the track's length once it is matched (history.resolve_plays).
LISTEN_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),  # the line number (text formats) or the JSON array index
        ("user_id", pa.string()),
        ("timestamp", pa.int64()),  # epoch milliseconds, UTC
        ("artist", pa.string()),
        ("title", pa.string()),
        ("recording_mbid", pa.string()),  # matches catalog.songs.mbid
        ("spotify_uri", pa.string()),  # matches catalog.songs.spotify_uri
        ("song_id", pa.string()),  # matches catalog.songs.id (the generic CSV's song column)
        ("action", pa.string()),  # listen, skip, complete
        ("seconds", pa.int32()),  # seconds heard; null: the whole track
        ("total_seconds", pa.int32()),  # the track's length when the row says it
        ("track_key", pa.string()),  # the source's own track id for the event id; null:
        # the normalised artist and title (matching.name_keys)
    ]
)
COLUMNS = tuple(LISTEN_SCHEMA.names)
BATCH_ROWS = 65_536
ACTIONS = ("listen", "skip", "complete")
# No listen line comes near this; a longer line is refused, not read whole.
MAX_LINE_BYTES = 1 << 20
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_FUTURE_MS = 300_000
_UTC_MS = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class RowError:
    """Why one row of one file was refused. ``where`` is ``line N`` or a JSON path such as
    ``$[12]``; ``row`` the bad row's text (cut to 1,000 characters) for the rejects file."""

    file: str
    where: str
    field: str
    reason: str
    row: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.field}: {self.reason}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "where": self.where,
            "field": self.field,
            "reason": self.reason,
            "row": self.row[:1000],
        }


class FileError(Exception):
    """A file that cannot be read on (not a bad row: a bad file). Nothing of it is written,
    even with ``--skip-invalid``."""

    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


@dataclass
class ParseContext:
    """What a parser needs besides the file: the time now (epoch ms; later timestamps are
    refused), the listener the file is for when its rows name none (``--user``), the play
    threshold, and counters of rows left out on purpose (podcasts), by kind."""

    now_ms: int
    user: str | None = None
    play_min_seconds: int = 30
    left_out: Counter = field(default_factory=Counter)


class Columns:
    """A batch built row by row (the JSON and CSV parsers): Python lists of the canonical
    columns, each row's text and place, and the batch's rejected rows; ``flush`` checks the
    rows (``check``) and yields the errors in file order, then the ``LISTEN_SCHEMA`` table.
    ``fields`` renames the canonical fields to the format's own in error messages."""

    def __init__(self, source, context: ParseContext, fields: dict[str, str] | None = None):
        self.source, self.context, self.fields = source, context, fields or {}
        self._reset()

    def _reset(self) -> None:
        self.lists = {name: [] for name in COLUMNS}
        self.raw: list = []  # each row's source text (or parsed item), for the rejects file
        self.wheres: list[str] = []
        self.errors: list[tuple[int, RowError]] = []

    def __len__(self) -> int:
        return len(self.raw)

    def add(self, where: str, raw, **values) -> None:
        for name, column in self.lists.items():
            column.append(values.get(name))
        self.raw.append(raw)
        self.wheres.append(where)

    def reject(self, row: int, error: RowError) -> None:
        self.errors.append((row, error))

    def full(self) -> bool:
        return len(self.raw) + len(self.errors) >= BATCH_ROWS

    def flush(self):
        batch = pa.Table.from_pydict(self.lists, LISTEN_SCHEMA)
        problems = check(batch, self.context.now_ms)
        rows = self.lists["row"]
        for i, field_, reason in problems:
            error = self.source.error(
                self.wheres[i], self.fields.get(field_, field_), reason, _text(self.raw[i])
            )
            self.errors.append((rows[i], error))
        yield from (error for _, error in sorted(self.errors, key=lambda e: e[0]))
        batch = without_rows(batch, [i for i, _, _ in problems])
        self._reset()
        if batch.num_rows:
            yield batch


def _text(raw) -> str:
    return raw if isinstance(raw, str) else orjson.dumps(raw, default=str).decode()


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso_ms(text: str) -> int | None:
    """Epoch ms of an ISO 8601 time with ``Z`` or an offset; None when it is not one."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if value.tzinfo is None:
        return None
    return int(value.timestamp() * 1000)


def parse_iso(texts: pa.Array) -> pa.Array:
    """Epoch ms (int64) of each ISO 8601 time; null where a text is not one with ``Z`` or an
    offset. A batch of valid times is parsed at once by Arrow's ISO 8601 cast; a batch
    holding any other text, the common ``...:SSZ`` form at once and the rest one by one."""
    try:
        return pc.cast(pc.cast(texts, _UTC_MS), pa.int64())
    except pa.ArrowInvalid:  # some text is not an ISO 8601 time with a zone
        pass
    parsed = pc.strptime(texts, format=ISO_FORMAT, unit="ms", error_is_null=True)
    ms = pc.cast(parsed, pa.int64())
    failed = pc.and_(pc.is_null(ms), pc.is_valid(texts))
    if not pc.any(failed).as_py():
        return ms
    values = ms.to_pylist()
    for i in pc.indices_nonzero(failed).to_pylist():
        values[i] = iso_ms(texts[i].as_py())
    return pa.array(values, pa.int64())


def day_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(batch: pa.Table, now: int) -> list[tuple[int, str, str]]:
    """(index in ``batch``, field, reason) for each row breaking a rule every format shares,
    first broken rule per row."""
    problems: dict[int, tuple[str, str]] = {}

    def flag(mask, field: str, reason) -> None:
        for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist():
            text = reason(i) if callable(reason) else reason
            problems.setdefault(i, (field, text))

    users = batch["user_id"]
    flag(pc.is_null(users), "user", "missing")
    flag(pc.equal(pc.utf8_trim_whitespace(users), ""), "user", "must not be empty")
    flag(
        pc.greater(pc.utf8_length(users), MAX_ID_LENGTH),
        "user",
        f"must be at most {MAX_ID_LENGTH} characters",
    )
    flag(pc.match_substring(users, "\x00"), "user", "must not contain a NUL character")
    ts = batch["timestamp"]
    flag(
        pc.less(ts, MIN_TIMESTAMP_MS),
        "timestamp",
        lambda i: f"{day_text(ts[i].as_py())} is before 2000-01-01",
    )
    flag(
        pc.greater(ts, now + MAX_FUTURE_MS),
        "timestamp",
        lambda i: f"{day_text(ts[i].as_py())} is in the future",
    )
    for name in ("seconds", "total_seconds"):
        values = batch[name]
        flag(pc.less(values, 0), name, lambda i, v=values: f"{v[i].as_py()} is negative")
        flag(
            pc.greater(values, MAX_DURATION_S),
            name,
            lambda i, v=values: f"{v[i].as_py()} is more than a day",
        )
    flag(pc.equal(batch["total_seconds"], 0), "total_seconds", "must be at least 1")
    return sorted((i, field, reason) for i, (field, reason) in problems.items())


def without_rows(batch: pa.Table, indexes: list[int]) -> pa.Table:
    """``batch`` less the rows at ``indexes``."""
    if not indexes:
        return batch
    positions = pa.array(range(batch.num_rows), pa.int64())
    dropped = pc.is_in(positions, value_set=pa.array(indexes, pa.int64()))
    return batch.filter(pc.invert(dropped))
