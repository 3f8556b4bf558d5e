"""The ranking rules serving and playlist continuation share, as pure functions:

- ``min_max``: a signal's scores scaled to [0, 1] over a candidate set (the blend of ALS
  and lyrics scores normalises each this way first: docs/serving.md, docs/playlists.md);
- ``cap_per_artist``: the final order built page by page, at most ``max_per_artist``
  songs of one artist on a page, page ``n + 1`` never repeating page ``n``.

Example
-------
>>> min_max({"a": 2.0, "b": 4.0}, ["a", "b", "c"])
{'a': 0.0, 'b': 1.0, 'c': 0.0}
>>> cap_per_artist(["a1", "a2", "b1"], lambda song: song[0], page_size=2, max_per_artist=1)
['a1', 'b1', 'a2']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence


def min_max(scores: Mapping[str, float], keys: Sequence[str]) -> dict[str, float]:
    """Each key's score scaled to [0, 1] over ``keys``; a key without a score gets 0 (it ranks
    last on that signal), and when every score is equal each gets 1."""
    present = [scores[k] for k in keys if k in scores]
    if not present:
        return {k: 0.0 for k in keys}
    low, high = min(present), max(present)
    span = high - low
    return {
        k: (0.0 if k not in scores else 1.0 if span == 0 else (scores[k] - low) / span)
        for k in keys
    }


def cap_per_artist(
    ranked: Sequence[Hashable],
    artist_of: Callable[[Hashable], Hashable],
    page_size: int,
    max_per_artist: int,
    stop: int | None = None,
) -> list:
    """The ranked items in serving order: pages of ``page_size`` filled best first, an item
    whose artist already has ``max_per_artist`` songs on the page deferred (in rank order) to
    the next page. The order depends only on ``ranked``, so pages never overlap. With
    ``stop``, pages are filled only until the order holds ``stop`` items (the pages up to
    the one being served); that prefix is the same as the whole order's."""
    remaining = list(ranked)
    ordered: list = []
    while remaining and (stop is None or len(ordered) < stop):
        per_artist: Counter = Counter()
        page: list = []
        deferred: list = []
        for i, item in enumerate(remaining):
            if len(page) == page_size:  # the page is full: the rest waits for the next one
                deferred.extend(remaining[i:])
                break
            artist = artist_of(item)
            if per_artist[artist] < max_per_artist:
                page.append(item)
                per_artist[artist] += 1
            else:
                deferred.append(item)
        ordered.extend(page)
        remaining = deferred
    return ordered
