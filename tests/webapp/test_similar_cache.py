"""The similar songs each web worker keeps (webapp.services.song_radio.SimilarSongs): a
kept list comes back as it was computed, per model version, until it expires, and no more
songs are kept than asked. Pure: no services."""

from __future__ import annotations

import time

from webapp.services.recs import Ranked
from webapp.services.song_radio import SimilarSongs


def ranked(seed: str, n: int = 5) -> list[Ranked]:
    return [
        Ranked(
            f"s{i}",
            1.0 - i / 10,
            ("similar_lyrics" if i % 2 else "because_you_listened", seed),
            {"als_score": i / 7, "content_score": 1 - i / 9},
        )
        for i in range(n)
    ]


def test_a_kept_list_comes_back_as_computed_for_its_model_version():
    kept = SimilarSongs()
    computed = ranked("seed")
    kept.put("seed", 3, "hybrid", computed)
    assert kept.get("seed", 3) == ("hybrid", computed)
    assert kept.get("seed", 4) is None  # another model version served
    assert kept.get("other", 3) is None


def test_a_kept_list_expires_and_the_oldest_asked_for_goes_first():
    kept = SimilarSongs(max_songs=2, ttl_s=0.05)
    kept.put("a", 1, "hybrid", ranked("a"))
    kept.put("b", 1, "hybrid", ranked("b"))
    assert kept.get("a", 1) is not None  # a is now the most recently asked for
    kept.put("c", 1, "hybrid", ranked("c"))
    assert kept.get("b", 1) is None
    assert kept.get("a", 1) is not None and kept.get("c", 1) is not None
    time.sleep(0.06)
    assert kept.get("a", 1) is None


def test_a_trending_fallback_is_not_kept():
    kept = SimilarSongs()
    kept.put("seed", 1, "trending", [Ranked("s1", 120.0, ("trending", None))])
    assert kept.get("seed", 1) is None


def test_nothing_is_kept_when_the_setting_says_zero():
    kept = SimilarSongs(ttl_s=0)
    kept.put("seed", 1, "hybrid", ranked("seed"))
    assert kept.get("seed", 1) is None
