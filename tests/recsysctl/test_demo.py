"""The demo world generator: deterministic, contract-valid, and carrying real signal."""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import combinations

import numpy as np
import pytest

from recsys.events import ALL_FIELDS, SENT_ONLY_FIELDS, validate_event
from recsysctl import demo

END = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
END_MS = int(END.timestamp() * 1000)


@pytest.fixture(scope="module")
def world() -> demo.World:
    return demo.generate_world("small", seed=7)


@pytest.fixture(scope="module")
def history(world) -> list[dict]:
    return list(demo.generate_history(world, end=END, seed=7))


def test_same_size_and_seed_give_the_same_world_and_history(world, history):
    again = demo.generate_world("small", seed=7)
    assert again == world
    assert list(demo.generate_history(again, end=END, seed=7)) == history


def test_another_seed_gives_another_world():
    assert demo.generate_world("small", seed=8) != demo.generate_world("small", seed=7)


def test_catalog_rows_have_exactly_the_catalog_columns(world):
    for table, columns in demo.CATALOG_COLUMNS.items():
        rows = getattr(world, table)
        assert all(set(row) == set(columns) for row in rows), table
    size = demo.SIZES["small"]
    assert [len(world.artists), len(world.songs), len(world.users)] == [
        size.artists,
        size.songs,
        size.users,
    ]
    assert all(re.fullmatch(r"a\d{4}", a["id"]) for a in world.artists)
    assert all(re.fullmatch(r"s\d{5}", s["id"]) for s in world.songs)
    assert all(re.fullmatch(r"u\d{5}", u["id"]) for u in world.users)


def test_songs_look_like_songs(world):
    artist_ids = {a["id"] for a in world.artists}
    assert {s["artist_id"] for s in world.songs} == artist_ids  # every artist has a song
    assert all(s["genre"] in demo.GENRES for s in world.songs)
    assert all(15 <= s["duration_s"] <= 420 for s in world.songs)
    assert all(s["image_url"] is None and s["audio_url"] is None for s in world.songs)
    assert all(datetime.fromisoformat(s["release_date"]) for s in world.songs)
    missing_lyrics = sum(s["lyrics"] is None for s in world.songs) / len(world.songs)
    assert 0 < missing_lyrics < 0.12
    assert len(world.popularity) == len(world.songs)
    assert sum(world.popularity) == pytest.approx(1.0)


def test_users_onboard_with_their_top_genres(world):
    empty = 0
    for user, taste in zip(world.users, world.tastes, strict=True):
        picked = user["onboarding_genres"]
        assert len(picked) <= 3
        empty += not picked
        ranked = sorted(demo.GENRES, key=lambda g: -taste.genre_weights[g])
        assert picked == ranked[: len(picked)]
        assert set(taste.favourite_artists) <= {a["id"] for a in world.artists}
    assert 0 < empty < len(world.users) / 2


def test_every_event_passes_the_contract(history):
    for event in history:
        # each generated event is a whole playback from no list: no playback_id, no rec_id
        assert tuple(event) == tuple(f for f in ALL_FIELDS if f not in SENT_ONLY_FIELDS)
        checked, errors = validate_event(event, now_ms=END_MS)
        assert errors == [], (event, errors)
        assert checked == event


def test_events_fall_in_the_window_and_match_their_song(world, history):
    durations = {s["id"]: s["duration_s"] for s in world.songs}
    start_ms = END_MS - demo.SIZES["small"].days * demo.DAY_MS
    for event in history:
        assert start_ms <= event["timestamp"] < END_MS
        assert event["total_duration"] == durations[event["track_id"]]
        assert event["source"] == "simulation"
        heard, total = event["duration"], event["total_duration"]
        if event["action"] == "skip":
            assert heard < 30
        elif event["action"] == "listen":
            assert 30 <= heard < total
        else:
            assert heard == total


def test_small_history_size_and_ids(history):
    assert 10_000 <= len(history) <= 30_000
    ids = [e["event_id"] for e in history]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids[:100])


def test_each_users_events_are_in_time_order(history):
    by_user = defaultdict(list)
    for event in history:
        by_user[event["user_id"]].append(event["timestamp"])
    assert all(times == sorted(times) for times in by_user.values())
    assert len(by_user) > 50  # nearly every listener listens in two weeks


def test_days_shortens_the_history(world):
    week = list(demo.generate_history(world, end=END, days=7))
    assert min(e["timestamp"] for e in week) >= int((END - timedelta(days=7)).timestamp() * 1000)


def test_end_must_be_timezone_aware(world):
    with pytest.raises(ValueError, match="timezone-aware"):
        next(demo.generate_history(world, end=datetime(2025, 1, 1)))


def _mean_jaccard(pairs) -> float:
    return float(np.mean([len(a & b) / len(a | b) for a, b in pairs]))


def test_lyrics_of_a_genre_share_more_words_than_lyrics_across_genres(world):
    words = [(s["genre"], set(s["lyrics"].lower().split())) for s in world.songs if s["lyrics"]][
        :150
    ]
    pairs = list(combinations(words, 2))
    same = _mean_jaccard((a, b) for (ga, a), (gb, b) in pairs if ga == gb)
    different = _mean_jaccard((a, b) for (ga, a), (gb, b) in pairs if ga != gb)
    assert same > 1.5 * different


def test_popular_songs_are_played_more(world, history):
    plays = Counter(e["track_id"] for e in history)
    order = np.argsort(world.popularity)[::-1]
    counts = np.array([plays[world.songs[i]["id"]] for i in order])
    top_tenth, bottom_half = counts[: len(counts) // 10], counts[len(counts) // 2 :]
    assert top_tenth.mean() > 3 * bottom_half.mean()


def test_songs_off_a_listeners_taste_are_skipped_more(world, history):
    genre_of = {s["id"]: s["genre"] for s in world.songs}
    taste_of = {u["id"]: t for u, t in zip(world.users, world.tastes, strict=True)}
    outcomes = {"on": Counter(), "off": Counter()}
    for event in history:
        weights = taste_of[event["user_id"]].genre_weights
        weight = weights[genre_of[event["track_id"]]]
        if weight == max(weights.values()):
            outcomes["on"][event["action"]] += 1
        elif weight < 0.05:
            outcomes["off"][event["action"]] += 1
    on, off = outcomes["on"], outcomes["off"]
    assert off.total() > 200  # enough off-taste playbacks to compare
    skip_on, skip_off = on["skip"] / on.total(), off["skip"] / off.total()
    assert skip_off > skip_on + 0.2
    assert on["complete"] / on.total() > off["complete"] / off.total()


def test_world_round_trips_through_json(world, tmp_path):
    demo.write_world(world, tmp_path / "demo")
    assert demo.read_world(tmp_path / "demo") == world


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="small"):
        demo.generate_world("huge")
