"""The serving formulas against hand computations on small known vectors."""

import numpy as np
import pytest

from recsys.ranking import cap_per_artist, min_max
from webapp.services.scoring import (
    ema,
    hybrid_scores,
    session_vector,
    strongest_contributor,
)


def test_ema_first_song_sets_it_then_halves():
    first = ema(None, np.array([1.0, 0.0]), 0.5)
    assert first.tolist() == [1.0, 0.0]
    second = ema(first, np.array([0.0, 1.0]), 0.5)
    assert second.tolist() == [0.5, 0.5]
    third = ema(second, np.array([1.0, 1.0]), 0.5)
    # 0.5 * [0.5, 0.5] + 0.5 * [1, 1]
    assert third.tolist() == [0.75, 0.75]


def test_session_vector_blends_long_and_short():
    v_long, v_short = np.array([2.0, 0.0, 1.0]), np.array([0.0, 4.0, 1.0])
    # 0.7 * [2, 0, 1] + 0.3 * [0, 4, 1] = [1.4, 1.2, 1.0]
    assert session_vector(v_long, v_short, 0.7) == pytest.approx([1.4, 1.2, 1.0])
    assert session_vector(v_long, None, 0.7).tolist() == v_long.tolist()
    assert session_vector(None, v_short, 0.7).tolist() == v_short.tolist()
    assert session_vector(None, None, 0.7) is None


def test_min_max_scales_over_the_given_keys():
    scores = {"a": 2.0, "b": 4.0, "c": 3.0}
    assert min_max(scores, ["a", "b", "c", "d"]) == {"a": 0.0, "b": 1.0, "c": 0.5, "d": 0.0}
    assert min_max({"a": 5.0}, ["a", "b"]) == {"a": 1.0, "b": 0.0}


def test_hybrid_scores_match_a_hand_computation():
    als = {"x": 0.9, "y": 0.5, "z": 0.1}  # norm: x 1, y 0.5, z 0
    content = {"y": 0.8, "z": 0.6, "w": 0.4}  # norm: y 1, z 0.5, w 0 (x has none: 0)
    scores = hybrid_scores(als, content, 0.6)
    assert scores["x"] == pytest.approx((0.6, 1.0, 0.0))
    assert scores["y"] == pytest.approx((0.6 * 0.5 + 0.4 * 1.0, 0.5, 1.0))
    assert scores["z"] == pytest.approx((0.4 * 0.5, 0.0, 0.5))
    assert scores["w"] == pytest.approx((0.0, 0.0, 0.0))


def test_cap_per_artist_defers_to_the_next_page_without_repeats():
    artists = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "c1": "C", "a4": "A", "b2": "B"}
    order = cap_per_artist(list(artists), artists.get, page_size=3, max_per_artist=2)
    assert order == ["a1", "a2", "b1", "a3", "c1", "a4", "b2"]
    pages = [order[i : i + 3] for i in range(0, len(order), 3)]
    for page in pages:
        assert max(sum(artists[s] == a for s in page) for a in "ABC") <= 2
    assert sorted(order) == sorted(artists)


def test_cap_per_artist_stopped_early_gives_the_same_first_pages():
    rng = np.random.default_rng(5)
    songs = [f"s{i}" for i in range(60)]
    artist = {s: f"a{rng.integers(4)}" for s in songs}  # few artists: many deferrals
    whole = cap_per_artist(songs, artist.get, page_size=7, max_per_artist=2)
    for stop in (1, 7, 8, 21, 40, 60, 100):
        served = cap_per_artist(songs, artist.get, page_size=7, max_per_artist=2, stop=stop)
        assert len(served) >= min(stop, len(songs))
        assert served == whole[: len(served)]


def test_strongest_contributor_weighs_recent_songs_by_their_ema_coefficient():
    item = np.array([1.0, 1.0])
    newest, older = np.array([1.0, 0.0]), np.array([0.0, 1.5])
    # newest: (1 - 0.5) * 1 = 0.5; older (the oldest): 0.5 * 1.5 = 0.75
    assert strongest_contributor(item, [("new", newest), ("old", older)], 0.5) == "old"
    assert strongest_contributor(item, [("new", newest), ("old", older * 0.5)], 0.5) == "new"
    assert strongest_contributor(item, [("neg", -newest)], 0.5) is None
