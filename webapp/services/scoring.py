"""The serving formulas, as pure functions on numpy vectors (docs/serving.md).

- ``ema``: the short-term vector after one qualifying play,
  ``v_short = w * v_short + (1 - w) * v_song`` (the first play sets it).
- ``session_vector``: ``v_session = w * v_long + (1 - w) * v_short``; one alone when the other
  is missing; ``None`` for a cold start.
- ``hybrid_scores``: next-song candidates merged from ALS and lyrics similarity, each score
  min-max normalised over the merged set, ``w * norm(als) + (1 - w) * norm(content)``.
- The artist cap of the final order, and the min-max normalisation, are recsys.ranking's
  (playlist continuation uses them too).

Example
-------
>>> import numpy as np
>>> session_vector(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.75).tolist()
[0.75, 0.25]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsys.ranking import min_max


def ema(previous: np.ndarray | None, song: np.ndarray, weight: float) -> np.ndarray:
    """The short-term vector after a qualifying play of ``song``."""
    if previous is None or previous.shape != song.shape:
        return song.astype(np.float64)
    return weight * previous + (1.0 - weight) * song


def session_vector(
    long_term: np.ndarray | None, short_term: np.ndarray | None, long_weight: float
) -> np.ndarray | None:
    """The vector the home page searches with; ``None`` when the listener has neither."""
    if long_term is None:
        return short_term
    if short_term is None or short_term.shape != long_term.shape:
        return long_term
    return long_weight * long_term + (1.0 - long_weight) * short_term


def hybrid_scores(
    als: dict[str, float], content: dict[str, float], als_weight: float
) -> dict[str, tuple[float, float, float]]:
    """``{song: (score, norm_als, norm_content)}`` over the union of both candidate sets."""
    keys = sorted(set(als) | set(content))
    norm_als = min_max(als, keys)
    norm_content = min_max(content, keys)
    return {
        k: (
            als_weight * norm_als[k] + (1.0 - als_weight) * norm_content[k],
            norm_als[k],
            norm_content[k],
        )
        for k in keys
    }


def strongest_contributor(
    item: np.ndarray, recent: Sequence[tuple[str, np.ndarray]], weight: float
) -> str | None:
    """The recent song that adds most to ``item``'s score through ``v_short``.

    ``recent`` is newest first; in the EMA the k-th newest song carries ``(1 - w) * w**k``
    (the oldest one ``w**k``), so its contribution to the item's inner product is that
    coefficient times ``v_song . v_item``. ``None`` when no recent song adds anything.
    """
    best, best_value = None, 0.0
    last = len(recent) - 1
    for k, (song_id, vector) in enumerate(recent):
        coefficient = weight**k if k == last else (1.0 - weight) * weight**k
        value = coefficient * float(np.dot(vector, item))
        if value > best_value:
            best, best_value = song_id, value
    return best
