"""Playlist continuation's formula (recsys/continuation.py) against a brute-force computation
written differently: plain Python loops over lists, no numpy."""

import math
import random

import numpy as np
import pytest

from recsys.continuation import rank


def _world(seed: int, songs: int = 40, dim: int = 4, lyrics_every: int = 2):
    rng = random.Random(seed)
    ids = [f"s{i:03d}" for i in range(songs)]
    items = {s: [rng.gauss(0, 1) for _ in range(dim)] for s in ids if rng.random() < 0.85}
    lyrics = {s: [rng.gauss(0, 1) for _ in range(3)] for s in ids[::lyrics_every]}
    artists = {s: f"artist{rng.randrange(8)}" for s in ids}
    return ids, items, lyrics, artists


def _as_numpy(vectors):
    return {k: np.array(v) for k, v in vectors.items()}


def _brute_force_scores(playlist, candidates, items, lyrics, w):
    """Each scorable candidate's blended score, computed from the docstring's formula."""

    def mean(rows):
        return [sum(col) / len(rows) for col in zip(*rows, strict=True)]

    def length(v):
        return math.sqrt(sum(x * x for x in v))

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    pool = []
    for c in candidates:
        if c not in playlist and c not in pool:
            pool.append(c)
    with_items = [items[p] for p in dict.fromkeys(playlist) if p in items]
    with_lyrics = [lyrics[p] for p in dict.fromkeys(playlist) if p in lyrics]
    als, content = {}, {}
    if with_items:
        q = mean(with_items)
        q = [x / length(q) for x in q]
        als = {c: dot(items[c], q) for c in pool if c in items}
    if with_lyrics:
        m = mean([[x / length(v) for x in v] for v in with_lyrics])
        content = {
            c: dot(lyrics[c], m) / (length(lyrics[c]) * length(m)) for c in pool if c in lyrics
        }
    scorable = [c for c in pool if c in als or c in content]

    def normalised(scores):
        if not scores:
            return dict.fromkeys(scorable, 0.0)
        low, high = min(scores.values()), max(scores.values())
        out = {}
        for c in scorable:
            if c not in scores:
                out[c] = 0.0
            elif high == low:
                out[c] = 1.0
            else:
                out[c] = (scores[c] - low) / (high - low)
        return out

    a, b = normalised(als), normalised(content)
    return {c: w * a[c] + (1 - w) * b[c] for c in scorable}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_blend_matches_a_brute_force_computation(seed):
    ids, items, lyrics, artists = _world(seed)
    rng = random.Random(seed + 100)
    playlist = rng.sample(ids, 6)
    expected = _brute_force_scores(playlist, ids, items, lyrics, 0.6)

    got = rank(
        playlist, ids, _as_numpy(items), _as_numpy(lyrics), artists, k=len(ids), max_per_artist=None
    )

    assert [s.song_id for s in got] == sorted(expected, key=lambda c: (-expected[c], c))
    for s in got:
        assert s.score == pytest.approx(expected[s.song_id], abs=1e-9)
    assert len(got) == len(expected)


def test_the_playlists_own_songs_and_repeats_are_never_suggested():
    ids, items, lyrics, artists = _world(7)
    playlist = ids[:10]
    got = rank(
        playlist,
        ids + ids[:20],
        _as_numpy(items),
        _as_numpy(lyrics),
        artists,
        k=100,
        max_per_artist=None,
    )
    suggested = [s.song_id for s in got]
    assert not set(suggested) & set(playlist)
    assert len(suggested) == len(set(suggested))


def test_no_page_holds_more_than_the_cap_of_one_artist_and_deferred_songs_come_later():
    ids, items, lyrics, artists = _world(8, songs=60)
    playlist = ids[:5]
    uncapped = rank(
        playlist, ids, _as_numpy(items), _as_numpy(lyrics), artists, k=60, max_per_artist=None
    )
    capped = rank(
        playlist,
        ids,
        _as_numpy(items),
        _as_numpy(lyrics),
        artists,
        k=60,
        max_per_artist=2,
        page_size=10,
    )
    order = [s.song_id for s in capped]
    assert sorted(order) == sorted(s.song_id for s in uncapped)  # deferred, never dropped
    for start in range(0, 40, 10):  # the full pages
        page = order[start : start + 10]
        counts = {}
        for song in page:
            counts[artists[song]] = counts.get(artists[song], 0) + 1
        assert max(counts.values()) <= 2, page
    # the first page is the best songs that fit the cap, in score order
    first, taken = [], {}
    for s in uncapped:
        if len(first) < 10 and taken.get(artists[s.song_id], 0) < 2:
            first.append(s.song_id)
            taken[artists[s.song_id]] = taken.get(artists[s.song_id], 0) + 1
    assert order[:10] == first


def test_k_is_the_first_page_when_no_page_size_is_given():
    ids, items, lyrics, artists = _world(9)
    got = rank(ids[:3], ids, _as_numpy(items), _as_numpy(lyrics), artists, k=8, max_per_artist=1)
    assert len(got) == 8
    assert len({artists[s.song_id] for s in got}) == 8


def test_missing_vectors_rank_on_the_other_signal_and_unscorable_songs_are_left_out():
    items = {"p1": np.array([1.0, 0.0]), "a": np.array([1.0, 0.1]), "b": np.array([0.0, 1.0])}
    lyrics = {"p2": np.array([0.0, 1.0]), "c": np.array([0.1, 1.0]), "b": np.array([1.0, 0.0])}
    artists = {s: s for s in ["a", "b", "c", "d"]}
    got = rank(["p1", "p2"], ["a", "b", "c", "d"], items, lyrics, artists, k=10)
    by_id = {s.song_id: s for s in got}
    assert set(by_id) == {"a", "b", "c"}  # d has neither vector
    assert by_id["a"].als_score == 1.0 and by_id["a"].lyrics_score == 0.0
    assert by_id["c"].als_score == 0.0 and by_id["c"].lyrics_score == 1.0
    assert by_id["b"].als_score == 0.0 and by_id["b"].lyrics_score == 0.0
    assert [s.song_id for s in got] == ["a", "c", "b"]  # 0.6 * 1 > 0.4 * 1 > 0


def test_a_playlist_without_any_vector_scores_nothing_and_one_without_lyrics_ranks_by_als():
    items = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "p": np.array([0.2, 1.0])}
    assert rank(["unknown"], ["a", "b"], items, {}, {}, k=5) == []
    got = rank(["p"], ["a", "b"], items, {}, {}, k=5)
    assert [s.song_id for s in got] == ["b", "a"]
    assert got[0].led_by == "als" and got[0].like == "p"


def test_the_reason_names_the_nearest_playlist_song_on_the_leading_signal():
    items = {
        "rock1": np.array([1.0, 0.0]),
        "folk1": np.array([0.0, 1.0]),
        "rock2": np.array([0.9, 0.1]),
        "folk2": np.array([0.1, 0.8]),
    }
    lyrics = {
        "rain": np.array([1.0, 0.0, 0.0]),
        "sun": np.array([0.0, 1.0, 0.0]),
        "drizzle": np.array([0.9, 0.0, 0.1]),
        "bright": np.array([0.0, 0.3, 0.0]),
    }
    titles = {
        "rock1": "Gravel Road",
        "folk1": "Willow Song",
        "rain": "Rain Again",
        "sun": "Sun Porch",
    }
    playlist = ["rock1", "folk1", "rain", "sun"]
    got = rank(
        playlist,
        ["rock2", "folk2", "drizzle"],
        items,
        lyrics,
        {},
        k=3,
        als_weight=0.6,
        playlist_name="Evening",
        titles=titles,
    )
    by_id = {s.song_id: s for s in got}
    assert by_id["rock2"].like == "rock1"
    assert by_id["rock2"].reason == "Fits Evening: like Gravel Road"
    assert by_id["folk2"].like == "folk1"
    assert by_id["drizzle"].led_by == "lyrics"
    assert by_id["drizzle"].reason == "Fits Evening: like Rain Again"


def test_nothing_asked_nothing_returned_and_a_zero_page_is_a_page_of_one():
    items = {"p": np.array([1.0, 0.0]), "a": np.array([1.0, 0.1]), "b": np.array([0.9, 0.2])}
    assert rank(["p"], ["a", "b"], items, {}, {"a": "x", "b": "x"}, k=0) == []
    got = rank(["p"], ["a", "b"], items, {}, {"a": "x", "b": "x"}, k=2, page_size=0,
               max_per_artist=1)  # fmt: skip
    assert [s.song_id for s in got] == ["a", "b"]  # one per page of one
