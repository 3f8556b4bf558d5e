"""What a page shows of each song, and the served model's item vectors of the songs a page
explains, kept in each web worker instead of read on every request.

- Details (title, artist and its name, genre, duration, image and audio, whether taken
  down) are kept for one catalog details version (``catalog.song_details_version``,
  migration 0023: a number every change of those columns moves in the same transaction). A
  request reads that number in the snapshot of its candidates (``DETAILS_VERSION_SQL``, a
  column of its first read); when it differs from the one kept, everything kept is dropped.
  Details read after the number only get newer, so a worker never keeps older details under
  a newer number. A takedown therefore reaches every page read after it commits.
- Item vectors (for "because you listened to" reasons) are kept for one model version: a
  version's vectors never change; another version served drops them.

Reads catalog.songs, catalog.artists and model.active_factors; writes nothing.
"""

from __future__ import annotations

import threading

import numpy as np

from recsys.model_registry import vectors

DETAILS_VERSION_SQL = "(select version from catalog.song_details_version)"
# The artist's name is a scalar subquery, so each song's artist is an index lookup rather
# than a hash of the whole artists table.
SONG_DETAILS_SQL = """
    select s.id, s.title, s.artist_id,
           (select a.name from catalog.artists as a where a.id = s.artist_id),
           s.genre, s.duration_s, s.image_url, s.audio_url, s.taken_down_at is not null
    from catalog.songs as s
    where s.id = any(%s)
"""
SONG_FIELDS = ("song_id", "title", "artist_id", "artist", "genre", "duration_s", "image_url",
               "audio_url")  # fmt: skip


class ServedSongs:
    def __init__(self, max_songs: int = 100_000):
        self.max_songs = max_songs
        self._lock = threading.Lock()
        self._details_version: int | None = None
        self._details: dict[str, dict] = {}
        self._down: set[str] = set()
        self._model_version: int | None = None
        self._vectors: dict[str, np.ndarray | None] = {}

    def details(
        self, conn, details_version: int | None, song_ids
    ) -> tuple[dict[str, dict], set[str]]:
        """(``{song: details}``, the songs taken down) for ``song_ids``, as of
        ``details_version`` (read by the request) or later; unknown songs are left out.
        Without a version, or with one older than the one kept (a request that read it
        before another moved it), read straight from PostgreSQL."""
        song_ids = list(song_ids)
        with self._lock:
            if details_version is None or (
                self._details_version is not None and details_version < self._details_version
            ):
                kept = None
            else:
                if details_version != self._details_version:
                    self._details, self._down = {}, set()
                    self._details_version = details_version
                kept = self._details
                missing = [s for s in song_ids if s not in kept]
        if kept is None:
            return read_details(conn, song_ids)
        found, down = read_details(conn, missing) if missing else ({}, set())
        with self._lock:
            if found and details_version == self._details_version:
                if len(self._details) + len(found) > self.max_songs:
                    self._details, self._down = {}, set()
                self._details.update(found)
                self._down |= down
            down |= self._down.intersection(song_ids)
        details = {s: d for s in song_ids if (d := found.get(s) or kept.get(s)) is not None}
        return details, down

    def item_vectors(self, conn, model_version: int | None, song_ids) -> dict[str, np.ndarray]:
        """The ALS item vectors of ``song_ids`` in ``model_version`` (those it has); empty
        when that version is no longer served."""
        if model_version is None:
            return {}
        with self._lock:
            if model_version != self._model_version:
                self._vectors, self._model_version = {}, model_version
            known = self._vectors
            missing = [s for s in song_ids if s not in known]
        found: dict[str, np.ndarray] = {}
        if missing:
            served, found = vectors.item_vectors(conn, missing)
            if served != model_version:  # another model went live since the request's read
                return {}
            with self._lock:
                if model_version == self._model_version:
                    if len(self._vectors) + len(missing) > self.max_songs:
                        self._vectors = {}
                    self._vectors.update({s: found.get(s) for s in missing})
        return {s: v for s in song_ids if (v := known.get(s, found.get(s))) is not None}


def read_details(conn, song_ids) -> tuple[dict[str, dict], set[str]]:
    details, down = {}, set()
    for *row, taken_down in conn.execute(SONG_DETAILS_SQL, (list(song_ids),)):
        details[row[0]] = dict(zip(SONG_FIELDS, row, strict=True))
        if taken_down:
            down.add(row[0])
    return details, down
