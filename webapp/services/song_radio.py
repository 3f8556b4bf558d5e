"""Similar songs and song radio: the next-song recommender (webapp.services.recs) seeded by
one song, with no listener or with one.

- Similar songs: the song's nearest songs by its ALS item vector and its lyrics vector,
  merged and blended exactly as next songs are (``0.6 norm(als) + 0.4 norm(content)``),
  songs taken down left out, artists capped per page. A song with neither vector gets the
  trending songs of its genre. Each has a reason: ``similar_listeners`` (ALS led) or
  ``similar_lyrics``.
- Song radio: the seed's next songs for a listener (their recent plays, skips included, and
  their disliked songs left out, as in next songs), steered by the listener's session: the
  newest song they heard long enough to count (a qualifying play) adds its own next songs,
  ``score = (1 - w) * seed + w * session`` (``radio_session_weight``, 0.3). So each
  refill comes from the seed and what the listener kept listening to; a skipped song never
  comes back and never steers. Both reads are the recommender's next songs, so the
  listener's arm of a running up_next experiment serves the radio too.

Reads what next songs read (catalog, the active model, the lyrics embeddings, the session).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from recsys import model_registry as registry
from recsys.model_registry import vectors
from webapp.services.recs import Answer, Ranked, Recommender, UnknownSong, _best_first
from webapp.services.served_songs import DETAILS_VERSION_SQL

SIMILAR_TEXT = "Listeners of {title} play it too"


def _song(conn, song_id: str) -> tuple[int | None, str, bool, bool, int | None]:
    """(the served model version, the song's genre, whether it has an ALS item vector,
    whether it has a lyrics vector, the catalog's details version); UnknownSong for a song
    unknown or taken down."""
    row = conn.execute(
        f"select {registry.ACTIVE_VERSION_SQL}, s.genre, s.taken_down_at is not null,"
        f" {vectors.has_vectors_sql('s.id')}, {DETAILS_VERSION_SQL}"
        " from catalog.songs as s where s.id = %s",
        (song_id,),
    ).fetchone()
    if row is None or row[2]:
        raise UnknownSong(song_id)
    version, genre, _, has_als, has_lyrics, details_version = row
    return version, genre, has_als, has_lyrics, details_version


class SimilarSongs:
    """The ranked similar songs of the songs asked for lately, kept in each web worker.

    They are the same for every caller, so a song's list is computed once per served model
    version and kept ``ttl_s`` seconds (``similar_songs_cache_s``; new lyrics embeddings
    show after at most that; 0: nothing kept), the ``max_songs`` most recently asked for
    (``similar_songs_kept``), compactly (ids and a float array: about 15 KB a
    song, so 30 MB at most by default). A song taken down after a list was kept leaves it:
    ``similar`` drops the songs down at the request's catalog details version (which the
    worker keeps too, webapp.services.served_songs), and checks the seed on every request.
    """

    def __init__(self, max_songs: int = 2_000, ttl_s: float = 300.0):
        self.max_songs, self.ttl_s = max_songs, ttl_s
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, tuple] = OrderedDict()

    def get(self, song_id: str, version: int | None) -> tuple[str, list[Ranked]] | None:
        with self._lock:
            found = self._kept.get((song_id, version))
            if found is None or found[0] < time.monotonic():
                return None
            self._kept.move_to_end((song_id, version))
        _, mode, ids, scores, lyrics_led = found
        return mode, [
            Ranked(
                song,
                float(score),
                ("similar_lyrics" if led else "because_you_listened", song_id),
                {"als_score": float(n_als), "content_score": float(n_content)},
            )
            for song, (score, n_als, n_content), led in zip(ids, scores, lyrics_led, strict=True)
        ]

    def put(self, song_id: str, version: int | None, mode: str, ranked: list[Ranked]) -> None:
        if self.ttl_s <= 0 or self.max_songs <= 0 or any(r.extra is None for r in ranked):
            return  # nothing kept, or a trending fallback
        ids = [r.song_id for r in ranked]
        scores = np.array(
            [(r.score, r.extra["als_score"], r.extra["content_score"]) for r in ranked]
        ).reshape(-1, 3)
        lyrics_led = np.array([r.reason[0] == "similar_lyrics" for r in ranked], dtype=bool)
        with self._lock:
            self._kept[(song_id, version)] = (
                time.monotonic() + self.ttl_s,
                mode,
                ids,
                scores,
                lyrics_led,
            )
            self._kept.move_to_end((song_id, version))
            while len(self._kept) > self.max_songs:
                self._kept.popitem(last=False)


def similar(recommender: Recommender, kept: SimilarSongs, conn, song_id: str) -> Answer:
    """The songs most like ``song_id`` (no listener: nothing personal is left out)."""
    with conn.transaction():
        registry.hold_active_model(conn)
        version, genre, has_als, has_lyrics, details_version = _song(conn, song_id)
        degraded = [] if version is not None else ["no_active_model"]
        found = kept.get(song_id, version)
        if found is not None:
            # songs taken down since the list was kept leave it (the worker keeps the
            # catalog's details, and which songs are down, per details version)
            mode, ranked = found
            _, down = recommender.songs.details(conn, details_version, [r.song_id for r in ranked])
            answer = Answer(mode, degraded, version, [r for r in ranked if r.song_id not in down])
        else:
            weight = recommender.settings.next_song_als_weight
            read = ([], version, genre, has_als, has_lyrics)
            answer = recommender._next_songs(conn, song_id, read, [], [song_id], weight)
            kept.put(song_id, version, answer.mode, answer.ranked)
        answer.degraded = degraded
    answer.details_version = details_version
    return answer


def similar_reasons(items: list[dict]) -> list[dict]:
    """A page of similar songs with their reasons in words about the song, not a
    listener ("because you listened to" becomes "listeners of ... play it too")."""
    for item in items:
        reason = item["reason"]
        if reason["kind"] == "because_you_listened":
            reason["kind"] = "similar_listeners"
            reason["text"] = SIMILAR_TEXT.format(title=reason["title"])
    return items


def radio(recommender: Recommender, conn, user_id: str, seed: str) -> Answer:
    """The next songs of a radio seeded by ``seed``, for ``user_id`` (see the module): the
    recommender's next songs of the seed, blended with its next songs of the listener's
    newest qualifying play when there is one (and both were read from one model)."""
    answer = recommender.next_songs(conn, user_id, seed)
    session = recommender._session(user_id, [])
    steer = next((song for song in session.heard if song != seed), None)
    if steer is None or answer.mode == "random":
        return answer
    try:
        steered = recommender.next_songs(conn, user_id, steer)
    except UnknownSong:  # gone from the catalog since it was heard
        return answer
    if steered.mode in ("trending", "random") or steered.model_version != answer.model_version:
        return answer
    ranked = [r for r in steered.ranked if r.song_id != seed]
    if answer.mode == "trending":  # the seed has no vector: the session leads
        answer.mode, answer.ranked = steered.mode, ranked
    else:
        answer.ranked = blend(answer.ranked, ranked, recommender.settings.radio_session_weight)
    return answer


def blend(seed: list[Ranked], session: list[Ranked], session_weight: float) -> list[Ranked]:
    """Both lists' candidates scored ``(1 - w) * seed + w * session`` (a candidate absent
    from one list scores 0 there), best first; each keeps the reason of the list that
    gives it more."""
    by_seed = {r.song_id: r for r in seed}
    by_session = {r.song_id: r for r in session}
    merged = []
    for song in by_seed.keys() | by_session.keys():
        a, b = by_seed.get(song), by_session.get(song)
        from_seed = (1 - session_weight) * a.score if a else 0.0
        from_session = session_weight * b.score if b else 0.0
        leader = a if from_seed >= from_session else b
        merged.append(Ranked(song, from_seed + from_session, leader.reason, leader.extra))
    merged.sort(key=_best_first)
    return merged
