"""The Last.fm 1K-users history: tab-separated, no header, one scrobble a line.

    user_000001<TAB>2009-05-04T23:08:57Z<TAB><artist MBID><TAB>Artist<TAB><track MBID><TAB>Track

(user id, ISO 8601 UTC time, artist MBID or empty, artist name, track MBID or empty, track
name). A scrobble is a play: Last.fm scrobbles a track once half of it (or four minutes) was
heard, so each line is a ``listen`` heard whole (``seconds`` null: the track's length, from
the catalog). The track MBID matches ``catalog.songs.mbid``, else the names match. The
event id's track key is the normalised artist and title (not the MBID, which a later export
may add to the same scrobble). Blank lines are skipped.

Each block of lines is split into columns by Arrow's CSV reader (quoting off: Last.fm names
hold quotes), checked column by column, and yielded as one batch.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from recsys.importers.listens import (
    LISTEN_SCHEMA,
    ParseContext,
    RowError,
    check,
    parse_iso,
    without_rows,
)
from recsys.importers.reading import BadLine, Block, Source, line_blocks, refuse_empty

SOURCE = "lastfm"
FIELDS = ("user", "timestamp", "artist MBID", "artist", "track MBID", "track")
_NAMES = [f"c{i}" for i in range(len(FIELDS))]
_SHAPE = "6 tab-separated fields: " + ", ".join(FIELDS)


def parse(source: Source, context: ParseContext) -> Iterator[pa.Table | RowError]:
    refuse_empty(source)
    for piece in line_blocks(source):
        if isinstance(piece, BadLine):
            yield _bad_line(source, piece)
            continue
        batch, errors = _parse_block(source, piece, context)
        yield from errors
        if batch.num_rows:
            yield batch


def _bad_line(source: Source, bad: BadLine) -> RowError:
    field = "(row)"
    if bad.offset or bad.reason == "not valid UTF-8":
        tabs = bad.data[: bad.offset].count(b"\t")
        field = FIELDS[tabs] if tabs < len(FIELDS) else "(row)"
    text = bad.data.decode("utf-8", "replace").rstrip("\r\n")
    return source.error(f"line {bad.line}", field, bad.reason, text)


def _parse_block(source: Source, block: Block, context: ParseContext):
    """One block's rows as a LISTEN_SCHEMA table, and the errors of its bad rows."""
    wrong_shape: list[tuple[int, int, str]] = []

    def on_invalid(row) -> str:
        wrong_shape.append((row.number, row.actual_columns, row.text))
        return "skip"

    table = pa_csv.read_csv(
        io.BytesIO(block.data),
        read_options=pa_csv.ReadOptions(
            column_names=_NAMES, use_threads=False, block_size=len(block.data) + 1
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter="\t",
            quote_char=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(_NAMES, pa.string()), strings_can_be_null=False
        ),
    )
    lines, blank = _line_numbers(block, [n for n, _, _ in wrong_shape])
    if len(lines) != table.num_rows:  # a lone carriage return read as a line break
        table, lines, blank = _python_split(block, wrong_shape)
    errors = [_shape_error(source, block.first_line + n - 1, k, t) for n, k, t in wrong_shape]
    lines = pa.array(lines)
    if blank:
        keep = pc.invert(pc.is_in(lines, value_set=pa.array(blank, pa.int64())))
        table, lines = table.filter(keep), lines.filter(keep)
    return _listens(source, table, lines, context, errors)


def _line_numbers(block: Block, wrong: list[int]) -> tuple[np.ndarray, list[int]]:
    """File line numbers of the rows Arrow read (every line but the ``wrong``-shaped ones,
    numbered from 1 in the block), and the blank lines among them."""
    data = np.frombuffer(block.data, np.uint8)
    ends = np.flatnonzero(data == 10)
    if not block.data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    just_cr = (lengths == 1) & (data[np.minimum(starts, len(data) - 1)] == 13)
    numbers = np.arange(block.first_line, block.first_line + len(ends), dtype=np.int64)
    blank = numbers[(lengths == 0) | just_cr].tolist()
    if wrong:
        numbers = np.delete(numbers, np.array(wrong, np.int64) - 1)
    return numbers, blank


def _python_split(block: Block, wrong_shape: list):
    """The block split on line feeds only, in Python (the rare block Arrow reads otherwise)."""
    wrong_shape.clear()
    rows, lines, blank = [], [], []
    for i, text in enumerate(block.data.decode("utf-8").split("\n")):
        if i == block.data.count(b"\n") and not text:
            break
        number = block.first_line + i
        text = text.removesuffix("\r")
        fields = text.split("\t")
        if not text:
            blank.append(number)
        if len(fields) == len(FIELDS) or not text:
            rows.append(fields if text else [""] * len(FIELDS))
            lines.append(number)
        else:
            wrong_shape.append((i + 1, len(fields), text))
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in FIELDS]
    table = pa.table(
        {name: pa.array(c, pa.string()) for name, c in zip(_NAMES, columns, strict=True)}
    )
    return table, np.array(lines, np.int64), blank


def _shape_error(source: Source, line: int, fields: int, text: str) -> RowError:
    if fields == 1:
        delimiter = next((d for d in (",", ";", "|") if d in text), None)
        reason = f"no tab found: expected {_SHAPE}"
        if delimiter:
            reason += f" (the line has '{delimiter}': wrong delimiter?)"
        return source.error(f"line {line}", "(row)", reason, text)
    if fields < len(FIELDS):
        return source.error(
            f"line {line}", FIELDS[fields], f"missing: the line has {fields} of {_SHAPE}", text
        )
    return source.error(f"line {line}", "(row)", f"{fields} fields, expected {_SHAPE}", text)


def _listens(source, table, lines, context: ParseContext, errors: list):
    def empty_to_null(column: str) -> pa.Array:
        values = table[column].combine_chunks()
        return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)

    user, when, _, artist, mbid, title = (table[n].combine_chunks() for n in _NAMES)
    n = table.num_rows
    batch = pa.table(
        {
            "row": lines,
            "user_id": user,
            "timestamp": parse_iso(when),
            "artist": empty_to_null(_NAMES[3]),
            "title": empty_to_null(_NAMES[5]),
            "recording_mbid": empty_to_null(_NAMES[4]),
            "spotify_uri": pa.nulls(n, pa.string()),
            "song_id": pa.nulls(n, pa.string()),
            "action": pa.repeat(pa.scalar("listen"), n),
            "seconds": pa.nulls(n, pa.int32()),
            "total_seconds": pa.nulls(n, pa.int32()),
            "track_key": pa.nulls(n, pa.string()),
        },
        schema=LISTEN_SCHEMA,
    )
    bad: dict[int, tuple[str, str]] = {}
    for i in pc.indices_nonzero(pc.is_null(batch["timestamp"])).to_pylist():
        bad[i] = (
            "timestamp",
            f"{when[i].as_py()!r} is not an ISO 8601 UTC time (e.g. 2009-05-04T23:08:57Z)",
        )
    for column, field in (("artist", "artist"), ("title", "track")):
        for i in pc.indices_nonzero(pc.is_null(batch[column])).to_pylist():
            bad.setdefault(i, (field, "must not be empty"))
    for i, field, reason in check(batch, context.now_ms):  # null timestamps pass its rules
        bad.setdefault(i, (field, reason))
    for i in sorted(bad):
        field, reason = bad[i]
        row = "\t".join(table[c][i].as_py() for c in _NAMES)
        errors.append(source.error(f"line {lines[i].as_py()}", field, reason, row))
    errors.sort(key=lambda e: int(e.where.split()[1]))
    return without_rows(batch, sorted(bad)), errors
