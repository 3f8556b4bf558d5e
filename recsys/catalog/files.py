"""Reading a catalog file record by record: CSV with a header, or JSON Lines (optionally
gzip-compressed), never holding more than one record in memory.

Lines are read with a bound (``max_record_bytes``, 1 MiB by default): a longer line is
skipped to its end unread and its record rejected, so a 100 MB line costs 1 MiB. Each line
is decoded as UTF-8 on its own, so one bad byte rejects one record, not the file. A CSV
value in quotes may span lines (lyrics do); one that never closes is cut at the same bound.

Problems with the file as a whole (empty, not comma-separated, a header with missing or
unknown columns, a JSON array instead of JSON Lines) raise ``CatalogFileError``; problems of
one record come back on its ``Record`` as field errors. Reads only the file.

Example
-------
>>> with CatalogFile("data/samples/catalog/catalog.csv") as catalog:  # doctest: +SKIP
...     for record in catalog.records():
...         print(record.line, record.values or record.errors)
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from recsys.catalog.rows import COLUMNS, REQUIRED
from recsys.events import FieldError

MAX_RECORD_BYTES = 1 << 20
FORMATS = ("csv", "jsonl")
_BOM = b"\xef\xbb\xbf"
_SHOWN = 200  # characters of an over-long line kept for the rejects file
_WRONG_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


class CatalogFileError(ValueError):
    """The file cannot be read as a catalog: nothing of it is imported."""

    def __init__(self, path, line: int | None, field: str, reason: str):
        self.path, self.line, self.field, self.reason = str(path), line, field, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field}: {reason}")


@dataclass
class Record:
    """One record of the file: its first line, its text, and its values or its errors."""

    line: int
    raw: str
    values: dict | None = None
    errors: list[FieldError] = field(default_factory=list)


def detect_format(path: Path, head: bytes) -> str:
    """``csv`` or ``jsonl``, by the name (``.csv``, ``.jsonl``, ``.ndjson``, ``.json``, each
    optionally ``.gz``), else by the first character: ``{`` or ``[`` is JSON."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in (".csv", ".tsv"):
        return "csv"
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    first = head.removeprefix(_BOM).lstrip()[:1]
    return "jsonl" if first in (b"{", b"[") else "csv"


class CatalogFile:
    """An open catalog file; ``records()`` yields its rows once, in order. ``columns`` and
    ``required`` are those a CSV header is checked against (a catalog's, by default)."""

    def __init__(
        self,
        path,
        fmt: str | None = None,
        max_record_bytes: int = MAX_RECORD_BYTES,
        columns: tuple[str, ...] = COLUMNS,
        required: tuple[str, ...] = REQUIRED,
    ) -> None:
        self.path = Path(path)
        self.max_record_bytes = max_record_bytes
        self.columns, self.required = columns, required
        self.size = os.path.getsize(self.path)
        self._raw = open(self.path, "rb")  # noqa: SIM115  (closed by close())
        self._stream = gzip.GzipFile(fileobj=self._raw) if self._is_gzip() else self._raw
        if fmt is not None and fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.format = fmt or detect_format(self.path, self._stream.peek(4096)[:4096])
        self.header: list[str] | None = None

    def _is_gzip(self) -> bool:
        return self._raw.peek(2)[:2] == b"\x1f\x8b"

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for a gzip file)."""
        return self._raw.tell()

    def close(self) -> None:
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> CatalogFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def error(self, line: int | None, field: str, reason: str) -> CatalogFileError:
        return CatalogFileError(self.path, line, field, reason)

    # -- lines ------------------------------------------------------------------------
    def _lines(self) -> Iterator[tuple[int, str, str | None]]:
        """(number, text, problem) of each line; an over-long line is skipped unread past
        its first bytes, and a line that is not UTF-8 is decoded with replacements."""
        limit, number = self.max_record_bytes, 0
        while chunk := self._stream.readline(limit + 1):
            number += 1
            if number == 1:
                chunk = chunk.removeprefix(_BOM)
            problem = None
            if len(chunk) > limit and not chunk.endswith(b"\n"):
                while (rest := self._stream.readline(1 << 16)) and not rest.endswith(b"\n"):
                    pass
                problem = f"the line is longer than {limit} bytes (not read)"
                chunk = chunk[:_SHOWN] + b"...\n"
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as err:
                problem = problem or f"the line is not valid UTF-8 (byte {err.start + 1})"
                text = chunk.decode("utf-8", "replace")
            yield number, text, problem

    # -- records ----------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        if self.format == "csv":
            return self._csv_records()
        return self._json_records()

    def _json_records(self) -> Iterator[Record]:
        first = True
        for number, text, problem in self._lines():
            if not text.strip():
                continue
            if first and text.lstrip().startswith("["):
                raise self.error(
                    number,
                    "file",
                    "is a JSON array; catalog JSON files are JSON Lines, one object per line"
                    " (convert with: jq -c '.[]' FILE)",
                )
            first = False
            record = Record(number, text)
            try:
                values = orjson.loads(text)
            except orjson.JSONDecodeError as err:
                values = None
                problem = problem or f"is not valid JSON ({err})"
            if problem:
                where = _field_of_bad_bytes(None, values) if "UTF-8" in problem else "line"
                record.errors.append(FieldError(where, problem))
                yield record
                continue
            if isinstance(values, dict):
                record.values = values
            else:
                record.errors.append(FieldError("line", "must be a JSON object"))
            yield record
        if first:
            raise self.error(None, "file", "is empty: no catalog rows")

    def _csv_records(self) -> Iterator[Record]:
        problems: dict[int, str] = {}
        pending: list[str] = []

        def texts():
            for number, text, problem in self._lines():
                if problem:
                    problems[number] = problem
                pending.append(text)
                yield "\n" if problem and "longer" in problem else text

        # The bound of a quoted value that never closes; process-wide, but only the
        # operator's tools read CSV.
        csv.field_size_limit(self.max_record_bytes)
        reader = csv.reader(texts(), strict=True)
        last = rows = 0
        while True:
            try:
                values = next(reader)
                error = None
            except StopIteration:
                break
            except csv.Error as err:
                values, error = None, _csv_problem(str(err), self.max_record_bytes)
            first, last = last + 1, reader.line_num
            raw, found = "".join(pending), [problems.pop(n) for n in range(first, last + 1)
                                            if n in problems]  # fmt: skip
            pending.clear()
            if not found and error is None and len(values) <= 1 and not "".join(values).strip():
                continue  # a blank line
            if self.header is None:
                self._read_header(first, values, found or ([error] if error else []))
                continue
            record = Record(first, raw)
            if found or error:
                where = _field_of_bad_bytes(self.header, values) if found else "line"
                record.errors.append(FieldError(where, (found or [error])[0]))
            elif len(values) != len(self.header):
                record.errors.append(
                    FieldError(
                        "row",
                        f"has {len(values)} values where the header has {len(self.header)}"
                        " columns (a value with a comma needs double quotes)",
                    )
                )
            else:
                record.values = dict(zip(self.header, values, strict=True))
            rows += 1
            yield record
        if self.header is None:
            raise self.error(None, "file", "is empty: no header and no rows")
        if rows == 0:
            raise self.error(None, "file", "has a header but no rows")

    def _read_header(self, line: int, values: list[str] | None, problems: list[str]) -> None:
        if problems or values is None:
            raise self.error(line, "header", problems[0] if problems else "unreadable")
        names = [v.strip() for v in values]
        if len(names) == 1:
            for delimiter, name in _WRONG_DELIMITERS.items():
                if delimiter in names[0] and set(names[0].split(delimiter)) & set(self.columns):
                    raise self.error(
                        line,
                        "header",
                        f"the columns are separated by {name}; catalog CSV files are"
                        " comma-separated",
                    )
        repeated = sorted({n for n in names if names.count(n) > 1})
        unknown = [n for n in names if n not in self.columns]
        missing = [n for n in self.required if n not in names]
        reasons = []
        if missing:
            reasons.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            reasons.append(
                f"unknown columns: {', '.join(unknown)} (the columns are {', '.join(self.columns)})"
            )
        if repeated:
            reasons.append(f"repeated columns: {', '.join(repeated)}")
        if reasons:
            raise self.error(line, "header", "; ".join(reasons))
        self.header = names


def _field_of_bad_bytes(names: list[str] | None, values) -> str:
    """The column whose value holds the bytes that were not UTF-8 (decoded as U+FFFD)."""
    if isinstance(values, dict):
        names = names or list(values)
        values = [values.get(n) for n in names]
    if names and values and len(values) == len(names):
        for name, value in zip(names, values, strict=True):
            if isinstance(value, str) and "\ufffd" in value:
                return name
    return "line"


def _csv_problem(message: str, limit: int) -> str:
    if "field larger than field limit" in message:
        return f"a value is longer than {limit} bytes, or its opening double quote never closes"
    if "unexpected end of data" in message:
        return "a double quote opened in this row never closes"
    return f"is not valid CSV ({message})"
