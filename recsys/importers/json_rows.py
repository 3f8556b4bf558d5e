"""Reading the fields of one JSON listen (ListenBrainz, Spotify) with errors that name them.

A ``FieldProblem`` carries the field's path inside the listen (``track_metadata.track_name``)
and what is wrong; the parser turns it into a RowError at the listen's line or JSON path.
JSON Lines files are read line by line (``jsonl_items``); JSON arrays item by item
(``reading.json_items``).
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from recsys.importers.listens import RowError
from recsys.importers.reading import BadLine, Source, json_items, line_blocks, refuse_empty


class FieldProblem(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def get(item: dict, path: str, required: bool = True):
    """The value at the dotted ``path`` (None when absent or null, unless ``required``)."""
    value = item
    for part in path.split("."):
        if not isinstance(value, dict):
            raise FieldProblem(path, "must be a JSON object")
        value = value.get(part)
        if value is None:
            if required:
                raise FieldProblem(path, "missing")
            return None
    return value


def text(item: dict, path: str, required: bool = True) -> str | None:
    value = get(item, path, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldProblem(path, "must be a string")
    if "\x00" in value:
        raise FieldProblem(path, "must not contain a NUL character")
    if required and not value.strip():
        raise FieldProblem(path, "must not be empty")
    return value if value.strip() else None


def integer(item: dict, path: str, required: bool = True, unit: str = "") -> int | None:
    """An integer (a float with no fraction too); negative ones are refused."""
    value = get(item, path, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldProblem(path, f"must be an integer{unit}")
    if isinstance(value, float) and not value.is_integer():
        raise FieldProblem(path, f"must be an integer{unit}")
    if value < 0:
        raise FieldProblem(path, f"{value:g} is negative")
    return int(value)


def first_byte(source: Source) -> bytes:
    """The file's first byte that is not white space (what tells an array from lines)."""
    with open(source.path, "rb") as f:
        return f.read(4096).lstrip()[:1]


def items(source: Source) -> Iterator[tuple[str, str, object] | RowError]:
    """(where, raw text, parsed item) for each listen of a JSON array or JSON Lines file,
    or a RowError for a line that is not JSON."""
    refuse_empty(source)
    if first_byte(source) == b"[":
        for index, item in json_items(source):
            yield f"$[{index}]", "", item
        return
    for piece in line_blocks(source):
        if isinstance(piece, BadLine):
            yield _bad_line(source, piece)
            continue
        for offset, line in enumerate(piece.data.split(b"\n")):
            if not line.strip():
                continue
            where = f"line {piece.first_line + offset}"
            try:
                yield where, line.decode(), orjson.loads(line)
            except orjson.JSONDecodeError as err:
                yield source.error(where, "(row)", f"invalid JSON: {err}", line.decode())


def _bad_line(source: Source, bad: BadLine) -> RowError:
    field = "(row)"
    if bad.reason == "not valid UTF-8":
        before = bad.data[: bad.offset].decode("utf-8", "replace")
        keys = [part.split('"')[-1] for part in before.split('":')[:-1]]
        field = keys[-1] if keys else field
    text_ = bad.data.decode("utf-8", "replace").rstrip("\r\n")
    return source.error(f"line {bad.line}", field, bad.reason, text_)
