"""Importing a catalog file: read and check it row by row, stage the valid rows, and upsert
them in one transaction (or, for a dry run, only count what would change).

By default a file with any bad row writes nothing: every problem is reported (file, line,
field, reason) and the transaction is rolled back. With ``skip_invalid`` the valid rows are
written and each bad row goes, with its reasons, to a rejects file next to the input
(``<file>.rejects.jsonl``: one ``{"line", "errors", "record"}`` object per bad row), written
only once the import committed. A process killed mid-import leaves nothing behind: the one
transaction never committed, so running it again gives what one clean run gives.

Reads the file; writes catalog.songs and catalog.artists (``recsys.catalog.store``) and the
rejects file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

from recsys.catalog import store
from recsys.catalog.files import CatalogFile
from recsys.catalog.rows import validate_row

ERRORS_KEPT = 50  # problems kept for the report; the rest are counted
PROGRESS_EVERY = 1000  # rows between progress callbacks


@dataclass(frozen=True)
class Problem:
    """One problem of one row: where it is and why."""

    path: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


@dataclass
class Report:
    """What an import read, rejected and (would have) changed."""

    path: str
    format: str
    dry_run: bool
    rows_read: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    plan: store.Plan | None = None
    written: bool = False
    rejects_path: str | None = None

    def add(self, problem: Problem) -> None:
        if len(self.problems) < ERRORS_KEPT:
            self.problems.append(problem)


def rejects_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def _lock(conn) -> None:
    """Two imports at once take turns (held to the end of the transaction)."""
    conn.execute("select pg_advisory_xact_lock(hashtext('catalog import'))")


def import_catalog(
    conn,
    path,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    fmt: str | None = None,
    max_record_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Import the catalog file at ``path`` through ``conn`` (a psycopg connection outside a
    transaction). ``progress(bytes_read, rows_read)`` is called every thousand rows.

    Raises ``recsys.catalog.files.CatalogFileError`` when the file cannot be read as a
    catalog at all. Check ``report.written``: False when rows were bad (and not skipped) or
    for a dry run.
    """
    path = Path(path)
    options = {} if max_record_bytes is None else {"max_record_bytes": max_record_bytes}
    rejected_lines: dict[int, list[dict]] = {}
    with CatalogFile(path, fmt, **options) as catalog:
        report = Report(str(path), catalog.format, dry_run)
        rejects = Rejects(path, enabled=skip_invalid and not dry_run)
        try:
            with conn.transaction():
                _lock(conn)
                store.create_staging(conn)
                store.copy_rows(conn, _valid_rows(catalog, report, rejects, progress))
                _check(conn, report, rejected_lines)
                if rejected_lines:
                    store.drop_lines(conn, list(rejected_lines))
                if dry_run:  # what the valid rows would change, bad rows or not
                    report.plan = store.plan(conn)
                    raise psycopg.Rollback
                if report.rejected and not skip_invalid:
                    raise psycopg.Rollback
                report.plan = store.apply(conn)
                # the rejects file is complete before the commit, and moved in place after
                rejects.add_from_file(path, fmt, options, rejected_lines)
                rejects.close()
                report.written = True  # once the block commits
            if report.written:
                report.rejects_path = rejects.publish()
        finally:
            rejects.discard()
    return report


def _valid_rows(catalog: CatalogFile, report: Report, rejects, progress) -> Iterator[tuple]:
    """(line, song) of each valid row, in file order; bad rows are counted and kept."""
    for record in catalog.records():
        report.rows_read += 1
        song, errors = (None, record.errors) if record.errors else validate_row(record.values)
        if errors:
            report.rejected += 1
            for error in errors:
                report.add(Problem(report.path, record.line, error.field, error.reason))
            rejects.write(record.line, [e.as_dict() for e in errors], record.raw)
        else:
            yield record.line, song
        if progress and report.rows_read % PROGRESS_EVERY == 0:
            progress(catalog.position(), report.rows_read)
    if progress:
        progress(catalog.position(), report.rows_read)


def _check(conn, report: Report, rejected_lines: dict[int, list[dict]]) -> None:
    """The checks across rows (ids twice, ids of other songs, artists' names), run on the
    staged rows."""
    for conflict in store.conflicts(conn):
        if conflict.line not in rejected_lines:
            report.rejected += 1
        rejected_lines.setdefault(conflict.line, []).append(
            {"field": conflict.field, "reason": conflict.reason}
        )
        report.add(Problem(report.path, conflict.line, conflict.field, conflict.reason))
    report.problems.sort(key=lambda p: p.line)


class Rejects:
    """The rejects file, written as ``.part`` and moved in place once the import committed."""

    def __init__(self, path: Path, enabled: bool):
        self.final = rejects_path_for(path)
        self.part = self.final.with_name(self.final.name + ".part")
        self.enabled = enabled
        self.count = 0
        self._file = open(self.part, "wb") if enabled else None  # noqa: SIM115

    def write(self, line: int, errors: list[dict], raw: str) -> None:
        if self._file is not None:
            record = {"line": line, "errors": errors, "record": raw.rstrip("\r\n")}
            self._file.write(orjson.dumps(record) + b"\n")
            self.count += 1

    def add_from_file(self, path: Path, fmt, options: dict, lines: dict[int, list[dict]]):
        """The rows the checks across rows rejected, read again from the file for their
        text (the first pass kept no row)."""
        if self._file is None or not lines:
            return
        with CatalogFile(path, fmt, **options) as catalog:
            for record in catalog.records():
                if record.line in lines:
                    self.write(record.line, lines[record.line], record.raw)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def publish(self) -> str | None:
        """Move the rejects file in place; with no rejects, remove an older one."""
        if not self.enabled:
            return None
        if self.count == 0:
            self.final.unlink(missing_ok=True)
            return None
        os.replace(self.part, self.final)
        return str(self.final)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self.part.unlink(missing_ok=True)
