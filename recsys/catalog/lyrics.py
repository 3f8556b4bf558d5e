"""Lyrics imports: an LRCLIB database dump matched to the catalog's songs, and a file of
``song_id,lyrics`` rows.

LRCLIB (SQLite: ``tracks`` pointing at their latest ``lyrics`` row by ``last_lyrics_id``): a
track matches a catalog song when their artist and title are equal once normalised (the
history importer's rule, ``recsys.importers.matching.name_keys``) and their durations differ
by at most ``MAX_DURATION_GAP_S``. Of several matching tracks the nearest in duration wins,
then one with plain lyrics, then one with synced lyrics, then the lowest track id. The song
gets the plain lyrics, else the synced ones stripped of their ``[mm:ss.xx]`` tags; an
instrumental leaves the song without lyrics and ``instrumental`` set. By default only songs
without lyrics get lyrics (``replace`` overwrites them). The dump is read twice, streaming:
once to match (keeping a few numbers per matched song), once for the chosen lyrics by id.

A lyrics file (CSV ``song_id,lyrics`` or JSON Lines with those keys) sets each row's song's
lyrics; an empty value clears them; an unknown song id is a bad row, as in a catalog file.

Both write catalog.songs (lyrics, instrumental, updated_at) in one transaction through a
temporary table; the lyrics_embeddings job then embeds the songs whose lyrics changed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import psycopg
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from recsys.catalog.files import CatalogFile, CatalogFileError
from recsys.catalog.importer import ERRORS_KEPT, Problem, Rejects
from recsys.catalog.rows import MAX_LYRICS, Id, optional_column
from recsys.events import Text, field_errors
from recsys.importers.matching import name_keys

MAX_DURATION_GAP_S = 2.0
BATCH = 20_000
STAGING = "pg_temp.lyrics_import"
# Kinds of lyrics a match can bring, best first.
PLAIN, SYNCED, INSTRUMENTAL = 0, 1, 2
KINDS = ("plain", "synced", "instrumental")

_LRC_TIMES = re.compile(r"^\s*(?:\[\d+:\d+(?:[.:]\d+)?\]\s*)+")
_LRC_WORD_TIMES = re.compile(r"<\d+:\d+(?:[.:]\d+)?>")
_LRC_METADATA = re.compile(r"^\s*\[[A-Za-z#]+:[^\]]*\]\s*$")


def strip_synced(lrc: str) -> str:
    """The plain text of synced (LRC) lyrics: line and word timestamps and metadata lines
    (``[ar:...]``, ``[length:...]``) dropped, runs of empty lines made one, trimmed.

    >>> strip_synced("[ar:Someone]\\n[00:01.50] first line\\n[00:04.00][01:10.00] chorus")
    'first line\\nchorus'
    """
    lines: list[str] = []
    for line in lrc.splitlines():
        if _LRC_METADATA.match(line):
            continue
        text = _LRC_WORD_TIMES.sub("", _LRC_TIMES.sub("", line)).strip()
        if text or (lines and lines[-1]):
            lines.append(text)
    return "\n".join(lines).strip()


@dataclass
class LyricsReport:
    """What a lyrics import read, matched and (would have) changed."""

    path: str
    dry_run: bool
    rows_read: int = 0  # LRCLIB: tracks with lyrics read; a file: its rows
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    catalog_songs: int = 0
    matched: int = 0  # catalog songs a track (or a row) gave lyrics or an instrumental to
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # had lyrics of their own, left alone (no replace)
    written: bool = False
    rejects_path: str | None = None

    @property
    def match_rate(self) -> float:
        return self.matched / self.catalog_songs if self.catalog_songs else 0.0

    def add(self, problem: Problem) -> None:
        if len(self.problems) < ERRORS_KEPT:
            self.problems.append(problem)


# -- writing ------------------------------------------------------------------------------
def _stage(conn, rows: Iterable[tuple[str, str | None, bool]]) -> None:
    conn.execute(f"drop table if exists {STAGING}")
    conn.execute(
        "create temp table lyrics_import (line integer, song_id text not null, lyrics text,"
        " instrumental boolean not null) on commit drop"
    )
    with conn.cursor().copy(
        f"copy {STAGING} (line, song_id, lyrics, instrumental) from stdin"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(f"analyze {STAGING}")


_DIFFERS = "(s.lyrics, s.instrumental) is distinct from (n.lyrics, n.instrumental)"
_OWN_LYRICS = "coalesce(btrim(s.lyrics), '') <> ''"


def _apply(conn, report: LyricsReport, replace: bool, dry_run: bool) -> None:
    """Count, then (unless a dry run) write, the staged lyrics."""
    report.unchanged, report.kept, report.updated = conn.execute(
        f"""
        select count(*) filter (where not {_DIFFERS}),
               count(*) filter (where {_DIFFERS} and not %(replace)s and {_OWN_LYRICS}),
               count(*) filter (where {_DIFFERS} and (%(replace)s or not {_OWN_LYRICS}))
        from {STAGING} as n join catalog.songs as s on s.id = n.song_id
        """,
        {"replace": replace},
    ).fetchone()
    if not dry_run:
        conn.execute(
            f"""
            update catalog.songs as s
            set lyrics = n.lyrics, instrumental = n.instrumental, updated_at = now()
            from {STAGING} as n
            where s.id = n.song_id and {_DIFFERS} and (%(replace)s or not {_OWN_LYRICS})
            """,
            {"replace": replace},
        )


# -- LRCLIB -------------------------------------------------------------------------------
def _catalog_index(conn) -> tuple[dict[str, list[tuple[str, int]]], int]:
    """normalised "artist<US>title" -> [(song id, seconds)], and the number of songs."""
    rows = conn.execute(
        "select s.id, a.name, s.title, s.duration_s from catalog.songs as s"
        " join catalog.artists as a on a.id = s.artist_id"
    ).fetchall()
    index: dict[str, list[tuple[str, int]]] = {}
    if rows:
        ids, artists, titles, seconds = zip(*rows, strict=True)
        keys = name_keys(pa.array(artists, pa.string()), pa.array(titles, pa.string()))
        for song, key, length in zip(ids, keys.to_pylist(), seconds, strict=True):
            if key is not None:
                index.setdefault(key, []).append((song, length))
    return index, len(rows)


def _open_dump(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise CatalogFileError(path, None, "file", "no such file")
    dump = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in dump.execute("select name from sqlite_master where type='table'")}
    except sqlite3.DatabaseError as err:
        dump.close()
        raise CatalogFileError(path, None, "file", f"is not an SQLite database ({err})") from None
    if not {"tracks", "lyrics"} <= tables:
        dump.close()
        raise CatalogFileError(
            path, None, "file", "is not an LRCLIB dump: it needs the tables tracks and lyrics"
        )
    return dump


def _best_tracks(
    dump: sqlite3.Connection,
    index: dict[str, list[tuple[str, int]]],
    report: LyricsReport,
    progress: Callable[[int, int], None] | None,
) -> dict[str, tuple[float, int, int, int]]:
    """song id -> (duration gap, kind, track id, lyrics id) of its best matching track."""
    total = dump.execute("select coalesce(max(rowid), 0) from tracks").fetchone()[0]
    cursor = dump.execute(
        """
        select t.id, t.artist_name, t.name, t.duration, l.id,
               case when trim(coalesce(l.plain_lyrics, '')) <> '' then 0
                    when trim(coalesce(l.synced_lyrics, '')) <> '' then 1
                    when coalesce(l.instrumental, 0) then 2
               end
        from tracks as t join lyrics as l on l.id = t.last_lyrics_id
        """
    )
    best: dict[str, tuple[float, int, int, int]] = {}
    while batch := cursor.fetchmany(BATCH):
        report.rows_read += len(batch)
        keys = name_keys(
            pa.array([r[1] for r in batch], pa.string()),
            pa.array([r[2] for r in batch], pa.string()),
        ).to_pylist()
        for (track, _, _, duration, lyrics_id, kind), key in zip(batch, keys, strict=True):
            if key is None or kind is None or duration is None or key not in index:
                continue
            for song, seconds in index[key]:
                gap = abs(float(duration) - seconds)
                if gap <= MAX_DURATION_GAP_S:
                    found = (gap, kind, track, lyrics_id)
                    if song not in best or found < best[song]:
                        best[song] = found
        if progress:
            progress(batch[-1][0], total)
    return best


def _chosen_lyrics(
    dump: sqlite3.Connection, best: dict[str, tuple[float, int, int, int]]
) -> Iterator[tuple[None, str, str | None, bool]]:
    """(line, song id, lyrics, instrumental) of each matched song, read by lyrics id."""
    songs_of: dict[int, list[str]] = {}
    kind_of: dict[int, int] = {}
    for song, (_, kind, _, lyrics_id) in best.items():
        songs_of.setdefault(lyrics_id, []).append(song)
        kind_of[lyrics_id] = kind
    ids = sorted(songs_of)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = dump.execute(
            "select id, plain_lyrics, synced_lyrics from lyrics"
            f" where id in ({','.join('?' * len(chunk))})",
            chunk,
        )
        for lyrics_id, plain, synced in rows:
            kind = kind_of[lyrics_id]
            text = {PLAIN: (plain or "").strip(), SYNCED: strip_synced(synced or "")}.get(kind)
            for song in songs_of[lyrics_id]:
                yield None, song, text or None, kind == INSTRUMENTAL


def import_lrclib(
    conn,
    path,
    *,
    dry_run: bool = False,
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LyricsReport:
    """Match an LRCLIB dump to the catalog and write the lyrics found (see the module doc).
    ``progress(track id reached, highest track id)`` is called after each batch."""
    path = Path(path)
    report = LyricsReport(str(path), dry_run)
    dump = _open_dump(path)
    try:
        index, report.catalog_songs = _catalog_index(conn)
        best = _best_tracks(dump, index, report, progress)
        report.matched = len(best)
        for _, kind, _, _ in best.values():
            report.kinds[KINDS[kind]] += 1
        with conn.transaction():
            _stage(conn, _chosen_lyrics(dump, best))
            _apply(conn, report, replace, dry_run)
            if dry_run:
                raise psycopg.Rollback
            report.written = True
    finally:
        dump.close()
    return report


# -- a song_id,lyrics file ----------------------------------------------------------------
class LyricsRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    song_id: Id
    lyrics: optional_column(Annotated[Text, StringConstraints(max_length=MAX_LYRICS)])


def _valid_rows(catalog: CatalogFile, report: LyricsReport, rejects: Rejects) -> Iterator:
    for record in catalog.records():
        report.rows_read += 1
        errors = record.errors
        if not errors:
            try:
                row = LyricsRow.model_validate(record.values)
            except ValidationError as err:
                errors = field_errors(err, "row")
        if errors:
            report.rejected += 1
            for error in errors:
                report.add(Problem(report.path, record.line, error.field, error.reason))
            rejects.write(record.line, [e.as_dict() for e in errors], record.raw)
            continue
        yield record.line, row.song_id, row.lyrics, False


def _file_conflicts(conn) -> list[tuple[int, str, str]]:
    """(line, field, reason) of rows naming an unknown song, or a song a row before named."""
    found = [
        (line, "song_id", f"{song!r} is not in the catalog")
        for line, song in conn.execute(
            f"select n.line, n.song_id from {STAGING} as n"
            " where not exists (select 1 from catalog.songs as s where s.id = n.song_id)"
        )
    ]
    found += [
        (line, "song_id", f"{song!r} is already on line {first}")
        for line, song, first in conn.execute(
            f"select line, song_id, first_line from (select line, song_id,"
            f" min(line) over (partition by song_id) as first_line from {STAGING}) as d"
            " where line > first_line"
        )
    ]
    return sorted(found)


def import_lyrics_file(
    conn, path, *, dry_run: bool = False, skip_invalid: bool = False, fmt: str | None = None
) -> LyricsReport:
    """Set the lyrics of the songs a ``song_id,lyrics`` file names, all or nothing (or,
    with ``skip_invalid``, the valid rows, the others to ``<file>.rejects.jsonl``)."""
    path = Path(path)
    report = LyricsReport(str(path), dry_run)
    columns = ("song_id", "lyrics")
    with CatalogFile(path, fmt, columns=columns, required=columns) as lyrics_file:
        rejects = Rejects(path, enabled=skip_invalid and not dry_run)
        try:
            with conn.transaction():
                _stage(conn, _valid_rows(lyrics_file, report, rejects))
                bad: dict[int, list[dict]] = {}
                for line, name, reason in _file_conflicts(conn):
                    report.rejected += line not in bad
                    bad.setdefault(line, []).append({"field": name, "reason": reason})
                    report.add(Problem(report.path, line, name, reason))
                report.problems.sort(key=lambda p: p.line)
                conn.execute(f"delete from {STAGING} where line = any(%s)", (list(bad),))
                report.matched = conn.execute(f"select count(*) from {STAGING}").fetchone()[0]
                _apply(conn, report, replace=True, dry_run=dry_run)
                if dry_run or (report.rejected and not skip_invalid):
                    raise psycopg.Rollback
                opts = {"columns": columns, "required": columns}
                rejects.add_from_file(path, fmt, opts, bad)
                rejects.close()
                report.written = True
            if report.written:
                report.rejects_path = rejects.publish()
        finally:
            rejects.discard()
    return report
