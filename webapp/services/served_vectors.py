"""The served model's item vectors of the songs being played, kept in each worker process.

Every qualifying play moves the listener's short-term vector by its song's ALS item vector.
Reading that vector from PostgreSQL on every event cost a pooled connection and a query per
request, a quarter of a single event's CPU; the songs played are few and repeat, so they are
kept here. Which model is served is asked again at most every ``recheck_s`` seconds (and
whenever a song is not known here yet): after an activation, events of the next second may
still move short-term vectors with the previous model's vectors, tagged with its version, which
readers then ignore (webapp/services/sessions.py), exactly as for an event read just before a
swap.

Reads model.active_model and model.active_factors; writes nothing.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from recsys.model_registry import vectors


class ServedItemVectors:
    def __init__(self, recheck_s: float = 1.0, max_songs: int = 200_000):
        self.recheck_s = recheck_s
        self.max_songs = max_songs
        self._lock = threading.Lock()
        self._version: int | None = None
        self._checked_at = -math.inf
        # song -> its item vector in the served model, or None when the model has none
        self._known: dict[str, np.ndarray | None] = {}

    def lookup(self, pool, songs: set[str]) -> tuple[int | None, dict[str, np.ndarray]]:
        """(the served version, {song: item vector}) for those of ``songs`` it knows."""
        now = time.monotonic()
        with self._lock:
            due = now - self._checked_at >= self.recheck_s
            missing = songs if due else songs - self._known.keys()
        if missing:
            with pool.connection() as conn:
                version, found = vectors.item_vectors(conn, missing)
                if version != self._version and missing != songs:
                    # another model went live: none of the vectors kept here are its own
                    version, found = vectors.item_vectors(conn, songs)
            self._remember(version, missing if version == self._version else songs, found, now)
        with self._lock:
            version = self._version
            return version, {s: v for s in songs if (v := self._known.get(s)) is not None}

    def _remember(self, version, asked: set[str], found: dict, now: float) -> None:
        with self._lock:
            if version != self._version or len(self._known) + len(asked) > self.max_songs:
                self._known = {}
            self._version = version
            self._checked_at = now
            for song in asked:
                self._known[song] = found.get(song)
