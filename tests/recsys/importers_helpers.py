"""Running a history parser on a file in tests: its listens as dicts, its errors, its context."""

from __future__ import annotations

import pyarrow as pa

from recsys.importers.history_read import FORMATS
from recsys.importers.listens import FileError, ParseContext, now_ms
from recsys.importers.reading import Source
from recsys.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "data" / "samples" / "history"


def parse(fmt: str, path, user: str | None = None):
    """(listens as dicts, RowErrors as (where, field, reason), context); a FileError is
    raised as it is."""
    context = ParseContext(now_ms(), user)
    listens, errors = [], []
    with Source(str(path)) as source:
        for piece in FORMATS[fmt].parse(source, context):
            if isinstance(piece, pa.Table):
                listens += piece.to_pylist()
            else:
                errors.append((piece.where, piece.field, piece.reason))
    return listens, errors, context


def file_error(fmt: str, path, user: str | None = None) -> tuple[str, str, str]:
    """(where, field, reason) of the FileError reading ``path`` raises."""
    try:
        parse(fmt, path, user)
    except FileError as err:
        return err.error.where, err.error.field, err.error.reason
    raise AssertionError(f"{path} was read without a file error")
