"""The playlist-continuation evaluation against a brute-force computation on a small set: the
split, the challenge's metrics, and every recommended list (continuation and popularity),
recomputed here with plain loops over every track. No services."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from evaluation import playlist_continuation as pc
from recsys.settings import Settings

SLICES = Path(__file__).parents[1] / "recsys" / "mpd_slices"
SETTINGS = Settings(als_rank=8, als_max_iter=6)


# -- the metrics on hand-made lists ---------------------------------------------------------


def test_r_precision_counts_hits_among_the_first_as_many_as_held_out():
    assert pc.r_precision(["a", "b", "c"], ["a", "x", "b", "c"]) == pytest.approx(2 / 3)
    assert pc.r_precision(["a"], ["x", "a"]) == 0.0
    assert pc.r_precision(["a", "b"], ["b", "a", "c"]) == 1.0


def test_ndcg_by_hand():
    # hits at ranks 2 and 4 of two held out: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert pc.ndcg(["a", "b"], ["x", "a", "y", "b"]) == pytest.approx(expected)
    assert pc.ndcg(["a", "b"], ["a", "b", "x"]) == pytest.approx(1.0)
    assert pc.ndcg(["a"], ["x", "y"]) == 0.0
    # a repeated recommendation counts once
    assert pc.ndcg(["a", "b"], ["x", "x", "a"]) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_clicks_are_pages_of_ten_before_the_first_hit_and_51_without_one():
    listed = [f"t{i}" for i in range(500)]
    assert pc.clicks(["t0"], listed) == 0
    assert pc.clicks(["t9"], listed) == 0
    assert pc.clicks(["t10"], listed) == 1
    assert pc.clicks(["t499", "t23"], listed) == 2
    assert pc.clicks(["nowhere"], listed) == 51


# -- a small set, brute force -----------------------------------------------------------------


def small_set(seed: int = 3) -> pc.PlaylistSet:
    """60 playlists over 48 tracks of 8 artists in 4 themes; lyrics for two tracks in three."""
    rng = random.Random(seed)
    tracks = [f"t{i:02d}" for i in range(48)]
    artist = {t: f"artist{i % 8}" for i, t in enumerate(tracks)}
    themes = [tracks[i::4] for i in range(4)]
    playlists = []
    for _ in range(60):
        theme = rng.choice(themes)
        inside = rng.sample(theme, rng.randint(8, 12))
        outside = rng.sample(tracks, 2)
        playlists.append(list(dict.fromkeys(inside + outside)))
    lyrics = {
        t: np.array([rng.gauss(1.0 if j == i % 4 else 0.0, 0.3) for j in range(4)])
        for i, t in enumerate(tracks)
        if i % 3
    }
    return pc.PlaylistSet(playlists, artist, lyrics, source="small set")


def brute_force_scores(seeds, tracks, model: pc.ItemModel, lyrics, w) -> dict[str, float]:
    def vector(t):
        return [float(x) for x in model.factors[model.index[t]]]

    def mean(rows):
        return [sum(column) / len(rows) for column in zip(*rows, strict=True)]

    def unit(v):
        n = math.sqrt(sum(x * x for x in v))
        return [x / n for x in v] if n else v

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    rest = [t for t in tracks if t not in seeds]
    known = [vector(s) for s in seeds if s in model.index]
    als = {t: dot(vector(t), unit(mean(known))) for t in rest if t in model.index} if known else {}
    worded = [unit(list(lyrics[s])) for s in seeds if s in lyrics]
    content = (
        {t: dot(unit(list(lyrics[t])), unit(mean(worded))) for t in rest if t in lyrics}
        if worded
        else {}
    )
    scorable = [t for t in rest if t in als or t in content]

    def scaled(scores):
        if not scores:
            return dict.fromkeys(scorable, 0.0)
        low, high = min(scores.values()), max(scores.values())
        return {
            t: 0.0 if t not in scores else 1.0 if high == low else (scores[t] - low) / (high - low)
            for t in scorable
        }

    a, c = scaled(als), scaled(content)
    return {t: w * a[t] + (1 - w) * c[t] for t in scorable}


def brute_force_metrics(cases, lists):
    rp, nd, cl = [], [], []
    for case, listed in zip(cases, lists, strict=True):
        relevant = set(case.held_out)
        rp.append(sum(1 for t in listed[: len(relevant)] if t in relevant) / len(relevant))
        dcg = sum(1 / math.log2(i + 2) for i, t in enumerate(listed[:500]) if t in relevant)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 500)))
        nd.append(dcg / idcg)
        first = next((i for i, t in enumerate(listed[:500]) if t in relevant), None)
        cl.append(51 if first is None else first // 10)
    return sum(rp) / len(rp), sum(nd) / len(nd), sum(cl) / len(cl)


def test_the_split_gives_seeds_and_holds_out_the_rest():
    data = small_set()
    split = pc.split(data, tests=20, seeds=[5, 2])
    assert sorted(c.category for c in split.cases) == [2] * 10 + [5] * 10
    as_given = {tuple(p) for p in data.playlists}
    for case in split.cases:
        whole = tuple(case.seeds + case.held_out)
        assert whole in as_given and len(case.seeds) == case.category
        assert len(case.held_out) >= pc.MIN_HELD_OUT
        assert case.seeds in split.train and list(whole) not in split.train
    assert len(split.train) == len(data.playlists)
    assert pc.split(data, tests=20, seeds=[5, 2]) == split  # seeded


def test_every_list_and_metric_matches_a_brute_force_computation():
    data = small_set()
    split = pc.split(data, tests=20, seeds=[5, 2])
    model = pc.train_items(split.train, SETTINGS, threads=1)
    tracks = sorted({t for p in data.playlists for t in p})
    results = pc.evaluate(data, split, SETTINGS, pool=len(tracks), threads=1, model=model)

    counts = {}
    for playlist in split.train:
        for t in playlist:
            counts[t] = counts.get(t, 0) + 1
    w = SETTINGS.next_song_als_weight
    for category in (2, 5):
        cases = [c for c in split.cases if c.category == category]
        expected = {
            "popularity (baseline)": [
                [t for t in sorted(counts, key=lambda t: (-counts[t], t)) if t not in c.seeds]
                for c in cases
            ],
        }
        for name, weight in (
            (f"continuation, w={w}, no artist cap", w),
            ("continuation, ALS alone (w=1)", 1.0),
            ("continuation, lyrics alone (w=0)", 0.0),
        ):
            lists = []
            for c in cases:
                scores = brute_force_scores(c.seeds, tracks, model, data.lyrics, weight)
                lists.append(sorted(scores, key=lambda t: (-scores[t], t))[:500])
            expected[name] = lists
        recommender = pc.Recommender(data, model, pc.popularity(split.train), len(tracks))
        for name, lists in expected.items():
            method = next(m for m in pc.methods(SETTINGS, True) if m.name == name)
            assert [recommender.recommend(c, method) for c in cases] == lists, name
            got = results[(category, name)]
            r, n, k = brute_force_metrics(cases, lists)
            assert (got.r_precision, got.ndcg, got.clicks) == pytest.approx((r, n, k)), name
            assert got.playlists == len(cases) == 10


def test_the_served_blend_beats_popularity_on_themed_playlists():
    data = small_set()
    split = pc.split(data, tests=20, seeds=[5, 2])
    results = pc.evaluate(data, split, SETTINGS, pool=100, threads=1)
    w, cap = SETTINGS.next_song_als_weight, SETTINGS.recs_max_per_artist
    served = f"continuation, w={w}, {cap}/artist per page of {pc.PAGE}"
    for category in (2, 5):
        assert results[(category, served)].ndcg > results[(category, "popularity (baseline)")].ndcg


def test_bad_slices_are_reported_not_measured():
    with pytest.raises(ValueError) as caught:
        pc.from_slices([str(SLICES / "mpd.slice.0-2.json"), str(SLICES / "mpd.slice.bad.json")])
    message = str(caught.value)
    assert "mpd.slice.bad.json: playlists[1] (pid 11): tracks[1].duration_ms: -5 is negative" in (
        message
    )
    data = pc.from_slices([str(SLICES / "mpd.slice.0-2.json")])
    assert data.playlists[1] == [
        "spotify:track:0cccccccccccccccccccc1",
        "spotify:track:0aaaaaaaaaaaaaaaaaaaa1",
    ]
    assert data.artist["spotify:track:0cccccccccccccccccccc1"] == (
        "spotify:artist:0kettle00000000000000001"
    )
