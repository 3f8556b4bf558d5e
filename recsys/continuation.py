"""Playlist continuation: the songs that fit a playlist, as a pure function on numpy vectors.

Reads nothing and writes nothing: the caller reads the vectors (from PostgreSQL in serving,
from a trained model in ``evaluation/playlist_continuation.py``) and passes them in, keyed
by song id.

The formula (docs/playlists.md, "Playlist suggestions"), for a playlist P and each candidate
song c not in P:

- ALS affinity: ``als(c) = v_c . q`` where ``q = mean(v_p for p in P with an item vector)``
  scaled to unit length (the scale changes no ranking; it keeps scores of long and short
  playlists comparable). Candidates without an item vector have no ALS score.
- Lyrics similarity: ``lyrics(c) = cos(l_c, m)`` where ``m`` is the mean of the playlist's
  unit-length lyrics vectors. Candidates without lyrics have no lyrics score.
- Both are min-max normalised over the candidates (a missing score counts 0, equal scores
  all count 1), then blended exactly as next songs are (``next_song_als_weight``, 0.6):
  ``score(c) = w * norm(als(c)) + (1 - w) * norm(lyrics(c))``.
  A candidate with neither vector cannot be scored and is left out.
- Order: best score first, ties by song id. Then the artist cap used by serving
  (``recs_max_per_artist``): pages of ``page_size`` songs are filled best first, a song
  whose artist already has ``max_per_artist`` songs on the page is deferred, in rank order,
  to the next page. The first ``k`` songs of that order are returned.
- Reason: the playlist song the candidate is most like on its leading signal (the larger of
  ``w * norm(als)`` and ``(1 - w) * norm(lyrics)``): the largest ``v_c . v_p`` when ALS
  leads, the largest lyrics cosine when lyrics lead; "Fits <playlist>: like <that song>".

Example
-------
>>> import numpy as np
>>> items = {"a": np.array([1.0, 0.0]), "b": np.array([0.9, 0.1]), "c": np.array([0.0, 1.0])}
>>> artists = {"a": "x", "b": "y", "c": "z"}
>>> [s.song_id for s in rank(["a"], ["a", "b", "c"], items, {}, artists, k=2)]
['b', 'c']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recsys.ranking import cap_per_artist, min_max

REASON_TEXT = "Fits {playlist}: like {title}"


@dataclass(frozen=True)
class Suggestion:
    """One suggested song: its blended score, both normalised signals (0..1), the playlist
    song it is most like (None when no playlist song shares a vector with it), which
    signal led (``"als"`` or ``"lyrics"``) and the reason's text."""

    song_id: str
    score: float
    als_score: float
    lyrics_score: float
    like: str | None
    led_by: str
    reason: str


def rank(
    playlist_ids: Sequence[str],
    candidates: Iterable[str],
    item_vectors: Mapping[str, np.ndarray],
    lyric_vectors: Mapping[str, np.ndarray],
    artists: Mapping[str, str],
    k: int,
    *,
    als_weight: float = 0.6,
    max_per_artist: int | None = 2,
    page_size: int | None = None,
    playlist_name: str = "this playlist",
    titles: Mapping[str, str] | None = None,
) -> list[Suggestion]:
    """The ``k`` candidates that fit the playlist best, artist-capped, with reasons.

    Parameters
    ----------
    playlist_ids : the playlist's songs (order and repeats do not matter).
    candidates : songs that may be suggested; the playlist's own songs and repeats are
        dropped.
    item_vectors : ALS item vector per song id (the served model's), for the songs that have
        one; playlist songs and candidates may be missing.
    lyric_vectors : lyrics embedding per song id, for the songs that have one.
    artists : artist id per candidate (a candidate missing here is its own artist).
    k : how many suggestions to return.
    als_weight : ``w`` of the blend (the ``next_song_als_weight`` setting).
    max_per_artist : most songs of one artist per page (``recs_max_per_artist``); None: no
        cap.
    page_size : the page the cap applies to; defaults to ``k`` (at least 1).
    playlist_name, titles : for the reason's text (a song missing from ``titles`` is named
        by its id).
    """
    if k <= 0:
        return []
    in_playlist = set(playlist_ids)
    pool = [c for c in dict.fromkeys(candidates) if c not in in_playlist]
    als_query, als_rows, als_ids = _als_query(playlist_ids, item_vectors)
    lyrics_query, lyrics_rows, lyrics_ids = _lyrics_query(playlist_ids, lyric_vectors)

    als = {}
    if als_query is not None:
        als = {c: float(item_vectors[c] @ als_query) for c in pool if c in item_vectors}
    lyrics = {}
    if lyrics_query is not None:
        lyrics = {c: _cosine(lyric_vectors[c], lyrics_query) for c in pool if c in lyric_vectors}
    scored = [c for c in pool if c in als or c in lyrics]
    norm_als = min_max(als, scored)
    norm_lyrics = min_max(lyrics, scored)
    w = als_weight
    order = sorted(scored, key=lambda c: (-(w * norm_als[c] + (1 - w) * norm_lyrics[c]), c))
    if max_per_artist is not None:
        order = cap_per_artist(
            order, lambda c: artists.get(c, c), max(1, page_size or k), max_per_artist, stop=k
        )

    names = titles or {}
    suggestions = []
    for c in order[:k]:
        als_part, lyrics_part = w * norm_als[c], (1 - w) * norm_lyrics[c]
        led_by = "lyrics" if lyrics_part > als_part or c not in als else "als"
        if led_by == "als":
            like = _nearest(item_vectors[c], als_rows, als_ids)
        else:
            like = _nearest(_unit(lyric_vectors[c]), lyrics_rows, lyrics_ids)
        title = names.get(like, like) if like is not None else "its songs"
        suggestions.append(
            Suggestion(
                c,
                als_part + lyrics_part,
                norm_als[c],
                norm_lyrics[c],
                like,
                led_by,
                REASON_TEXT.format(playlist=playlist_name, title=title),
            )
        )
    return suggestions


def _als_query(playlist_ids, item_vectors):
    ids = [p for p in dict.fromkeys(playlist_ids) if p in item_vectors]
    if not ids:
        return None, None, []
    rows = np.vstack([np.asarray(item_vectors[p], dtype=np.float64) for p in ids])
    mean = rows.mean(axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm if norm > 0 else mean), rows, ids


def _lyrics_query(playlist_ids, lyric_vectors):
    ids = [p for p in dict.fromkeys(playlist_ids) if p in lyric_vectors]
    if not ids:
        return None, None, []
    rows = np.vstack([_unit(lyric_vectors[p]) for p in ids])
    return rows.mean(axis=0), rows, ids


def _unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _cosine(a, b) -> float:
    return float(_unit(a) @ _unit(b))


def _nearest(vector, rows, ids) -> str | None:
    """The playlist song (of ``ids``, one per row) with the largest inner product with
    ``vector``, the first such on ties."""
    if rows is None:
        return None
    return ids[int(np.argmax(rows @ np.asarray(vector, dtype=np.float64)))]
