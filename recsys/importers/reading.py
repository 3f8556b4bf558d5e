"""Reading a history file as a stream, never whole: bounded line blocks for the text formats,
items of a JSON array one at a time for the JSON ones.

``Source`` counts and hashes the bytes as they are read (the progress bar's position and the
import's key come from it). ``line_blocks`` cuts the file into blocks of whole lines of at
most ``BLOCK_BYTES``, each valid UTF-8; a line of ``MAX_LINE_BYTES`` or more or one that is
not UTF-8 comes out as a ``BadLine`` instead and the blocks go on after it. ``json_items``
yields a JSON array's items with an incremental parser and refuses an item larger than
``MAX_LINE_BYTES`` before holding it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import ijson

from recsys.importers.listens import MAX_LINE_BYTES, FileError, RowError

# Lines are read this many bytes at a time (about 65,000 Last.fm lines): fewer, larger
# batches cost less a row in every step after.
BLOCK_BYTES = 4 << 20


class Source:
    """A file opened for reading, counting and hashing (SHA-256) what is read; or one byte
    range of it, [start, end), whose first line is line ``first_line`` of the file (None:
    counted from the start). A range of a file is not hashed (its digest serves nothing)."""

    def __init__(self, path: str, start: int = 0, end: int | None = None, first_line=1):
        self.path = str(path)
        self.size = os.path.getsize(self.path)
        self._file = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        self.first_line = first_line if first_line is not None else _lines_before(self, start)
        self._file.seek(start)
        self._left = (self.size if end is None else end) - start
        self._hash = hashlib.sha256() if start == 0 and end is None else None
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._file.read(self._left if n < 0 else min(n, self._left))
        self._left -= len(data)
        if self._hash is not None:
            self._hash.update(data)
        self.bytes_read += len(data)
        return data

    def digest(self) -> str:
        """SHA-256 of the bytes read so far (of the whole file once read to its end)."""
        return self._hash.hexdigest()

    def error(self, where: str, field: str, reason: str, row: str = "") -> RowError:
        return RowError(self.path, where, field, reason, row)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _lines_before(source: Source, offset: int) -> int:
    """The number of the line starting at byte ``offset`` (a line's first byte)."""
    lines, left = 1, offset
    while left:
        chunk = source._file.read(min(left, 8 << 20))
        lines += chunk.count(b"\n")
        left -= len(chunk)
    return lines


def line_starts(path: str, parts: int) -> list[int]:
    """Byte offsets splitting the file into about ``parts`` ranges of whole lines."""
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, starts[-1]))
            while True:  # to the next line's start
                chunk = f.read(1 << 16)
                if not chunk:
                    return starts
                newline = chunk.find(b"\n")
                if newline != -1:
                    starts.append(f.tell() - len(chunk) + newline + 1)
                    break
    return [s for i, s in enumerate(starts) if s < size and (i == 0 or s > starts[i - 1])]


def refuse_empty(source: Source) -> None:
    if source.size == 0:
        raise FileError(source.error("line 1", "(file)", "the file is empty"))


@dataclass(frozen=True)
class Block:
    """Whole lines ``first_line``, ``first_line + 1``, ... of the file: valid UTF-8, each at
    most MAX_LINE_BYTES, the last one ending with a newline unless it ends the file."""

    first_line: int
    data: bytes


@dataclass(frozen=True)
class BadLine:
    """A line that is not read: longer than the limit, or not UTF-8 (``offset``: the first
    bad byte in ``data``, the line's first bytes)."""

    line: int
    reason: str
    data: bytes
    offset: int = 0


def line_blocks(
    source: Source, limit: int = MAX_LINE_BYTES, block: int = BLOCK_BYTES
) -> Iterator[Block | BadLine]:
    """The file as Blocks of about ``block`` bytes and BadLines, in order; a line of
    ``limit`` bytes or more is a BadLine. At most about ``2 * block`` bytes held."""
    block = max(block, limit)
    pending, line = b"", source.first_line
    while True:
        chunk = source.read(block - len(pending))
        data = pending + chunk if pending else chunk
        if not chunk:
            if data:
                yield from _limited_blocks(data, line, limit)
            return
        end = data.rfind(b"\n")
        if end == -1 and len(data) >= limit:
            yield BadLine(line, _too_long(limit), data[:200])
            pending, line = _skip_line(source, limit), line + 1
            if pending is None:
                return
            continue
        if end == -1:
            pending = data
            continue
        whole, pending = data[: end + 1], data[end + 1 :]
        yield from _limited_blocks(whole, line, limit)
        line += whole.count(b"\n")


def _too_long(limit: int) -> str:
    return f"the line is longer than {limit:,} bytes: not read"


def _limited_blocks(data: bytes, line: int, limit: int) -> Iterator[Block | BadLine]:
    """``data`` (whole lines, the first one line ``line``) as Blocks, each line of
    ``limit`` bytes or more as a BadLine instead. Such a line holds a whole aligned window
    of ``limit // 2`` bytes without a newline: a block whose every window has one is
    passed on unsplit, after one short search per window."""
    step = max(1, limit // 2)
    if all(data.find(b"\n", k, k + step) != -1 for k in range(0, len(data) - step + 1, step)):
        yield from _utf8_blocks(data, line)
        return
    start = run = 0
    run_line = line
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end == -1 else end
        if end - start >= limit:
            if run < start:
                yield from _utf8_blocks(data[run:start], run_line)
            yield BadLine(line, _too_long(limit), data[start : start + 200])
            run, run_line = end + 1, line + 1
        start, line = end + 1, line + 1
    if run < len(data):
        yield from _utf8_blocks(data[run:], run_line)


def _skip_line(source: Source, limit: int) -> bytes | None:
    """Read past the rest of an over-long line, a chunk at a time; the bytes after its
    newline, or None at the end of the file."""
    while True:
        chunk = source.read(limit)
        if not chunk:
            return None
        end = chunk.find(b"\n")
        if end != -1:
            return chunk[end + 1 :]


def _utf8_blocks(data: bytes, line: int) -> Iterator[Block | BadLine]:
    while data:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            start = data.rfind(b"\n", 0, err.start) + 1
            end = data.find(b"\n", err.start)
            end = len(data) if end == -1 else end + 1
            if start:
                yield Block(line, data[:start])
                line += data.count(b"\n", 0, start)
            yield BadLine(line, "not valid UTF-8", data[start:end], err.start - start)
            data, line = data[end:], line + 1
            continue
        yield Block(line, data)
        return


class _BoundedReader:
    """The file as ijson reads it, refusing to read more than ``limit`` bytes while one
    item is being parsed (``mark`` is called as each item comes out)."""

    def __init__(self, source: Source, limit: int):
        self.source, self.limit, self.since_mark = source, limit, 0

    def read(self, n: int) -> bytes:
        data = self.source.read(n)
        self.since_mark += len(data)
        if self.since_mark > self.limit + n:  # one read-ahead buffer of slack
            raise _ItemTooLarge
        return data

    def mark(self) -> None:
        self.since_mark = 0


class _ItemTooLarge(Exception):
    pass


_KEY = re.compile(r'"([^"\\]{1,64})"\s*:')


def json_items(source: Source, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, object]]:
    """(index, item) of the JSON array the file holds, one at a time. A file that is not
    such an array, is cut short, is not UTF-8 or holds an item over ``limit`` bytes raises
    FileError at the item where reading stopped (``$[index]``)."""
    refuse_empty(source)
    reader = _BoundedReader(source, limit)
    index = 0  # the item being read
    try:
        for item in ijson.items(reader, "item", use_float=True):
            reader.mark()
            yield index, item
            index += 1
    except _ItemTooLarge:
        raise FileError(
            source.error(
                f"$[{index}]", "(item)", f"the item is longer than {limit:,} bytes: not read"
            )
        ) from None
    except ijson.JSONError as err:
        raise FileError(_json_error(source, index, str(err))) from None
    if index == 0 and source.bytes_read and not _starts_array(source.path):
        raise FileError(source.error("$", "(file)", "must be a JSON array of listens"))


def _json_error(source: Source, index: int, message: str) -> RowError:
    where = f"$[{index}]"
    if "premature EOF" in message:
        return source.error(where, "(file)", f"truncated JSON: the file ends inside {where}")
    if "UTF8" in message:
        # the parser shows the text around the error and a caret under it: the last key
        # before the caret names the field
        parts = message.split("\\n")
        before = parts[1][: parts[2].find("^") + 1] if len(parts) > 2 else ""
        keys = _KEY.findall(before)
        return source.error(where, keys[-1] if keys else "(item)", "not valid UTF-8")
    first = message.strip().splitlines()[0] if message.strip() else "invalid JSON"
    return source.error(where, "(file)", f"invalid JSON: {first}")


def _starts_array(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4096).lstrip()[:1] == b"["
