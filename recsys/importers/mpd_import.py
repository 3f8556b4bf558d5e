"""Importing Million Playlist Dataset slices into listeners' playlists
(``python -m recsysctl import playlists FILE...``).

Each file is one transaction: it is read whole first (``mpd.read_slice``; a slice holds
1,000 playlists), and a file with any bad playlist writes nothing. Then its tracks are matched
to catalog songs (``mpd.resolve``: the history importers' matching), and, in one
transaction:

- the owner (``--user``, default ``mpd``) is added to ``catalog.users`` when missing, and,
  with ``--create-missing``, the songs and artists of unmatched tracks are added
  (``history_catalog.write_catalog``: genre 'unknown');
- each playlist is upserted into ``catalog.playlists`` under an id derived from the owner
  and its ``pid`` (uuid5), public (the dataset's playlists are public ones), created and
  updated at its ``modified_at``; its songs replace the stored ones in
  ``catalog.playlist_songs``, positions 1..n in the file's order, added at ``modified_at``.
  A playlist whose name, description and songs equal the stored ones is left untouched,
  so importing a file twice reports ``0 inserted, 0 updated`` the second time.

Unmatched tracks (without ``--create-missing``) are left out of their playlists and
counted; a playlist none of whose tracks matched is imported empty. No ``add_to_playlist``
event is sent: an import is not a listener's action, and ALS learns from events.
``dry_run`` does all of it and rolls back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from recsys.importers.history_catalog import load_index, write_catalog
from recsys.importers.listens import FileError, RowError
from recsys.importers.matching import CatalogIndex
from recsys.importers.mpd import Playlist, SliceCounts, read_slice, resolve
from recsys.importers.reading import Source

DEFAULT_OWNER = "mpd"
# uuid5 namespace of imported playlists' ids: the same owner and pid, the same playlist
PLAYLIST_NAMESPACE = uuid.UUID("6f0c7a52-3a4e-5c1e-9d8b-7b1f2f6f0d21")


def playlist_id(owner: str, pid: int) -> str:
    return str(uuid.uuid5(PLAYLIST_NAMESPACE, f"{owner}/{pid}"))


@dataclass
class PlaylistImport:
    """What importing one file did (or, dry-run, would do)."""

    file: str
    owner: str
    dry_run: bool
    counts: SliceCounts = field(default_factory=SliceCounts)
    errors: list[RowError] = field(default_factory=list)
    matched: int = 0
    created_tracks: int = 0
    created: dict[str, int] = field(default_factory=dict)  # users, artists, songs added
    unmatched: Counter = field(default_factory=Counter)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    empty: int = 0
    written: bool = False


class Importer:
    """Imports files one after another into one database, the catalog read once."""

    def __init__(self, conn, owner: str = DEFAULT_OWNER, create_missing: bool = False):
        self.conn, self.owner, self.create_missing = conn, owner, create_missing
        self.index: CatalogIndex | None = None
        self.pids: dict[int, str] = {}  # pid -> the file it came from, over the run

    def run(self, path: str, dry_run: bool = False, progress=None) -> PlaylistImport:
        report = PlaylistImport(str(path), self.owner, dry_run)
        playlists = self._read(path, report, progress)
        if report.errors:
            return report
        if self.index is None:
            self.index = load_index(self.conn)
        found = resolve(playlists, self.index, self.create_missing)
        report.matched, report.created_tracks = found.matched, found.created
        report.unmatched = found.unmatched
        used = {song for _, songs in found.playlists for song in songs}
        created = [c for s, c in self.index.created.items() if s in used]
        try:
            with self.conn.transaction():
                report.created = write_catalog(self.conn, {self.owner}, created)
                self._write(found.playlists, report)
                if dry_run:
                    raise psycopg.Rollback
        except psycopg.errors.ForeignKeyViolation as err:  # a song deleted meanwhile
            report.errors.append(RowError(str(path), "(file)", "(song)", str(err).splitlines()[0]))
            self.index = None
            return report
        report.written = not dry_run
        if dry_run:  # the songs it would add are not in the catalog: forget them
            self.index = None
        else:
            self.pids.update({p.pid: str(path) for p, _ in found.playlists})
        return report

    def _read(self, path: str, report: PlaylistImport, progress) -> list[Playlist]:
        playlists = []
        try:
            with Source(str(path)) as source:
                for piece in read_slice(source, report.counts):
                    if isinstance(piece, RowError):
                        report.errors.append(piece)
                    elif piece.pid in self.pids and self.pids[piece.pid] != str(path):
                        where = f"playlists[{piece.index}] (pid {piece.pid})"
                        reason = f"{piece.pid} is already a playlist of {self.pids[piece.pid]}"
                        report.errors.append(source.error(where, "pid", reason))
                    else:
                        playlists.append(piece)
                    if progress is not None:
                        progress(source.bytes_read, report.counts.playlists)
        except FileError as err:
            report.errors.append(err.error)
        return playlists

    def _write(self, playlists: list[tuple[Playlist, list[str]]], report: PlaylistImport) -> None:
        ids = [playlist_id(self.owner, p.pid) for p, _ in playlists]
        # the stored ones locked first: a listener's change of one waits for the import
        self.conn.execute(
            "select id from catalog.playlists where id = any(%s::uuid[]) order by id for update",
            (ids,),
        )
        stored = {
            row[0]: (row[1], row[2], row[3], row[4])
            for row in self.conn.execute(
                "select p.id::text, p.user_id, p.name, p.description,"
                " coalesce(array_agg(ps.song_id order by ps.position)"
                "   filter (where ps.song_id is not null), '{}')"
                " from catalog.playlists as p"
                " left join catalog.playlist_songs as ps on ps.playlist_id = p.id"
                " where p.id = any(%s::uuid[]) group by p.id",
                (ids,),
            )
        }
        changed = []
        for (playlist, songs), pl_id in zip(playlists, ids, strict=True):
            report.empty += not songs
            wanted = (self.owner, playlist.name, playlist.description, songs)
            old = stored.get(pl_id)
            if old is not None and (old[0], old[1], old[2], list(old[3])) == wanted:
                report.unchanged += 1
                continue
            if old is None:
                report.inserted += 1
            else:
                report.updated += 1
            changed.append((pl_id, playlist, songs))
        if not changed:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                "insert into catalog.playlists"
                " (id, user_id, name, description, public, created_at, updated_at)"
                " values (%s, %s, %s, %s, true, %s, %s)"
                " on conflict (id) do update set user_id = excluded.user_id,"
                " name = excluded.name, description = excluded.description, updated_at = now()",
                [
                    (pl_id, self.owner, p.name, p.description, _at(p), _at(p))
                    for pl_id, p, _ in changed
                ],
            )
            cur.execute(
                "delete from catalog.playlist_songs where playlist_id = any(%s::uuid[])",
                ([pl_id for pl_id, _, _ in changed],),
            )
            with cur.copy(
                "copy catalog.playlist_songs (playlist_id, song_id, position, added_at) from stdin"
            ) as copy:
                for pl_id, p, songs in changed:
                    at = _at(p)
                    for position, song in enumerate(songs, start=1):
                        copy.write_row((pl_id, song, position, at))


def _at(playlist: Playlist) -> datetime:
    return datetime.fromtimestamp(playlist.modified_at, UTC)


def run_import(conn, path: str, owner: str, create_missing: bool, dry_run: bool) -> PlaylistImport:
    """One file, on its own: ``Importer(conn, owner, create_missing).run(path, dry_run)``."""
    return Importer(conn, owner, create_missing).run(path, dry_run)
