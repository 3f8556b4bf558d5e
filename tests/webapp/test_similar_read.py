"""The similar songs each web worker keeps for the one-statement read
(webapp.services.similar_read.KeptSimilar): a kept list comes back exactly as it was ranked
(the same floats, order, reasons and artists), only for its model version, until it
expires, and no more songs are kept than asked; the statement is told which version a
kept list is of (so it searches again under another model). Pure: no services."""

from __future__ import annotations

import time

from webapp.services.similar_read import KeptSimilar, Ranking


def ranking(n: int = 5) -> Ranking:
    songs = [f"s{i}" for i in range(n)]
    return Ranking(
        "hybrid",
        songs,
        [1.0 - i / 10 for i in range(n)],
        [(i / 7, 1 - i / 9) for i in range(n)],
        [bool(i % 2) for i in range(n)],
        # s3 is missing from the catalog; s4's artist is unknown
        {s: (None if s == "s4" else f"a{i % 2}") for i, s in enumerate(songs) if s != "s3"},
    )


def test_a_kept_list_comes_back_exactly_as_ranked_for_its_model_version():
    kept = KeptSimilar(10, 60)
    ranked = ranking()
    kept.put("seed", 3, ranked)
    assert kept.version("seed") == 3 and kept.version("other") is None
    assert kept.get("seed", 3) == ranked
    assert kept.get("seed", 4) is None  # another model version served
    kept.put("seed", 4, ranked)  # the list of the new model replaces it
    assert kept.get("seed", 3) is None and kept.version("seed") == 4


def test_a_kept_list_expires_and_the_oldest_asked_for_goes_first():
    kept = KeptSimilar(2, 0.05)
    kept.put("a", 1, ranking())
    kept.put("b", 1, ranking())
    assert kept.get("a", 1) is not None  # a is now the most recently asked for
    kept.put("c", 1, ranking())
    assert kept.get("b", 1) is None and kept.version("b") is None
    assert kept.get("a", 1) is not None and kept.get("c", 1) is not None
    time.sleep(0.06)
    assert kept.get("a", 1) is None and kept.version("a") is None


def test_nothing_is_kept_when_the_settings_say_zero():
    for kept in (KeptSimilar(10, 0), KeptSimilar(0, 60)):
        kept.put("seed", 1, ranking())
        assert kept.get("seed", 1) is None and kept.version("seed") is None
