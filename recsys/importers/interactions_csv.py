"""A generic interactions CSV: comma-separated, UTF-8, a header line naming the columns.

    user,song,timestamp,action,seconds[,total_seconds][,artist,title]
    user,song,timestamp,rating[,artist,title]

``user``: the listener's id. ``song``: a catalog song id (``catalog.songs.id``); when it is
not in the catalog, ``artist`` and ``title`` (if given) are matched by name. ``timestamp``:
ISO 8601 with ``Z`` or an offset, or epoch seconds. Either ``action`` (listen, skip or
complete) with ``seconds`` heard (and optionally the song's ``total_seconds``), or a
``rating``: a rated song was heard, so a rating is one play of the whole song, a
``complete`` when the rating is at least ``LIKED_RATING`` (3, the middle of a 1-5 scale), a
``listen`` heard whole when lower (ALS then weighs the liked songs more). The event id's
track key is the ``song`` column (the normalised artist and title when it is empty).
Columns in any order; unknown or missing ones are refused at line 1.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pyarrow as pa

from recsys.importers.listens import (
    ACTIONS,
    Columns,
    FileError,
    ParseContext,
    RowError,
    iso_ms,
)
from recsys.importers.reading import BadLine, Source, line_blocks, refuse_empty

SOURCE = "csv"
LIKED_RATING = 3.0
REQUIRED = ("user", "song", "timestamp")
OPTIONAL = ("total_seconds", "artist", "title")
KINDS = {"action": ("action", "seconds"), "rating": ("rating",)}
KNOWN = (*REQUIRED, *OPTIONAL, "action", "seconds", "rating")
MAX_EPOCH_SECONDS = 10**11  # later than year 5000: epoch milliseconds sent by mistake


class _Problem(Exception):
    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason


def parse(source: Source, context: ParseContext) -> Iterator[pa.Table | RowError]:
    refuse_empty(source)
    lines = _lines(source)
    errors: list[RowError] = []
    reader = csv.reader(_text_lines(source, lines, errors), strict=True)
    try:
        names = next(reader, None)
    except csv.Error as err:
        raise FileError(source.error("line 1", "(header)", f"invalid CSV: {err}")) from None
    header = _header(source, names, errors)
    batch = Columns(source, context)
    while True:
        try:
            values = next(reader, None)
        except csv.Error as err:
            errors.append(source.error(f"line {reader.line_num}", "(row)", f"invalid CSV: {err}"))
            values = []
        for error in errors:
            batch.reject(int(error.where.split()[1]), error)
        errors.clear()
        if values is None:
            break
        if not values or values == [""]:
            continue
        line = reader.line_num
        where, raw = f"line {line}", ",".join(values)
        try:
            batch.add(where, raw, row=line, **_row(header, values, context))
        except _Problem as problem:
            batch.reject(line, source.error(where, problem.field, problem.reason, raw))
        if batch.full():
            yield from batch.flush()
    yield from batch.flush()


def _lines(source: Source):
    for piece in line_blocks(source):
        if isinstance(piece, BadLine):
            yield piece
            continue
        text = piece.data.decode("utf-8")
        if piece.first_line == 1:
            text = text.removeprefix("\ufeff")
        yield from text.splitlines(keepends=True)


def _text_lines(source: Source, pieces, errors: list):
    """Text lines for the csv reader; a BadLine becomes an error and an empty line (so the
    reader's line numbers stay the file's)."""
    for piece in pieces:
        if isinstance(piece, BadLine):
            text = piece.data.decode("utf-8", "replace").rstrip("\r\n")
            errors.append(source.error(f"line {piece.line}", "(row)", piece.reason, text))
            yield "\n"
        else:
            yield piece


def _header(source: Source, names: list[str] | None, errors: list) -> dict[str, int]:
    if errors:
        bad = errors[0]
        raise FileError(source.error(bad.where, "(header)", bad.reason, bad.row))
    names = [n.strip().lower() for n in names or []]
    if len(names) == 1 and any(d in names[0] for d in ";\t|"):
        raise FileError(
            source.error(
                "line 1", "(header)", f"one column {names[0]!r}: the delimiter must be ','"
            )
        )
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        raise FileError(
            source.error("line 1", unknown[0], f"unknown column; known: {', '.join(KNOWN)}")
        )
    for name in REQUIRED:
        if name not in names:
            raise FileError(source.error("line 1", name, "missing column"))
    kinds = [k for k, needs in KINDS.items() if needs[0] in names]
    if len(kinds) != 1:
        raise FileError(
            source.error(
                "line 1",
                "action" if not kinds else "rating",
                "give either action and seconds, or rating",
            )
        )
    for name in KINDS[kinds[0]]:
        if name not in names:
            raise FileError(source.error("line 1", name, "missing column"))
    return {name: i for i, name in enumerate(names)}


def _row(header: dict[str, int], values: list[str], context: ParseContext) -> dict:
    if len(values) != len(header):
        raise _Problem("(row)", f"{len(values)} fields, the header has {len(header)}")

    def value(name: str) -> str | None:
        if name not in header:
            return None
        return values[header[name]].strip() or None

    song, artist, title = value("song"), value("artist"), value("title")
    if song is None and (artist is None or title is None):
        raise _Problem("song", "missing (and no artist and title to match by)")
    row = {
        "user_id": context.user or value("user"),
        "timestamp": _timestamp(value("timestamp")),
        "artist": artist,
        "title": title,
        "song_id": song,
        "total_seconds": _seconds(value("total_seconds"), "total_seconds"),
        "track_key": song,
    }
    if "rating" in header:
        rating = _number(value("rating"), "rating")
        row["action"] = "complete" if rating >= LIKED_RATING else "listen"
        return row
    action = value("action")
    if action not in ACTIONS:
        raise _Problem("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
    row["action"], row["seconds"] = action, _seconds(value("seconds"), "seconds", required=True)
    total = row["total_seconds"]
    if total is not None and row["seconds"] > total:
        raise _Problem("seconds", f"{row['seconds']} is more than total_seconds {total}")
    return row


def _timestamp(text: str | None) -> int:
    if text is None:
        raise _Problem("timestamp", "missing")
    if text.isdigit():
        seconds = int(text)
        if seconds >= MAX_EPOCH_SECONDS:
            raise _Problem("timestamp", f"{text} is out of range (epoch seconds expected)")
        return seconds * 1000
    ms = iso_ms(text)
    if ms is None:
        raise _Problem("timestamp", f"{text!r} is neither ISO 8601 with a zone nor epoch seconds")
    return ms


def _number(text: str | None, field: str) -> float:
    if text is None:
        raise _Problem(field, "missing")
    try:
        return float(text)
    except ValueError:
        raise _Problem(field, f"{text!r} is not a number") from None


def _seconds(text: str | None, field: str, required: bool = False) -> int | None:
    if text is None:
        if required:
            raise _Problem(field, "missing")
        return None
    try:
        seconds = int(text)
    except ValueError:
        raise _Problem(field, f"{text!r} is not a whole number of seconds") from None
    if seconds < 0:
        raise _Problem(field, f"{seconds} is negative")
    return seconds
