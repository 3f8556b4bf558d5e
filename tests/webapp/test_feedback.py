"""Likes, unlikes and dislikes through the events API, kept on the server (real PostgreSQL,
Redis and Kafka): the likes a listener reads back, and serving that never offers a disliked
song again and sends an artist disliked twice to the end, checked against exact rankings
computed here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from recsys.ranking import cap_per_artist
from tests.webapp.test_recs_api import expected_next, ids, post_event

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 7, "gaps": True}  # served to the app (conftest.py), as in test_recs_api


@pytest.fixture
def listener(model, fresh_listener):
    """A listener the model knows, with no session and no likes or dislikes yet."""
    return fresh_listener(sorted(model.users)[5])


def home_ranking(model, user, disliked=(), pushed_down=(), pool=100):
    """The exact home ranking of a listener without a session: inner products over every
    song but the disliked, the candidate pool, then the pushed-down artists' songs last."""
    query = model.users[user]
    scored = sorted(
        ((-float(np.dot(query, v)), s) for s, v in model.items.items() if s not in disliked)
    )[:pool]
    ranked = [s for _, s in scored]
    return [s for s in ranked if model.artist_of[s] not in pushed_down] + [
        s for s in ranked if model.artist_of[s] in pushed_down
    ]


def likes(client, user, kind="likes"):
    response = client.get(f"/api/v1/users/{user}/{kind}?limit=100")
    assert response.status_code == 200, response.json
    return [item["song_id"] for item in response.json["items"]]


def test_likes_are_kept_and_read_back_newest_first(client, model, listener):
    songs = sorted(model.items)[:3]
    now = int(time.time() * 1000)
    for i, song in enumerate(songs):
        post_event(client, listener, song, "like", 0, at_ms=now - 1000 * (3 - i))
    assert likes(client, listener) == songs[::-1]
    body = client.get(f"/api/v1/users/{listener}/likes?limit=1").json
    assert body["total"] == 3 and len(body["items"]) == 1
    assert body["items"][0]["title"] and body["items"][0]["artist"]

    post_event(client, listener, songs[1], "unlike", 0, at_ms=now)
    assert likes(client, listener) == [songs[2], songs[0]]
    # a like older than the unlike, arriving late (a retry, a replay), changes nothing
    post_event(client, listener, songs[1], "like", 0, at_ms=now - 500)
    assert likes(client, listener) == [songs[2], songs[0]]
    post_event(client, listener, songs[1], "like", 0, at_ms=now + 1)
    assert likes(client, listener) == [songs[1], songs[2], songs[0]]
    assert likes(client, listener, "dislikes") == []


def test_the_same_event_twice_is_kept_once(client, model, listener):
    song = sorted(model.items)[4]
    event = {
        "event_id": "0b7a0f3e-8f0c-4c56-9a55-3c1d1f6f2b10",
        "user_id": listener,
        "track_id": song,
        "timestamp": int(time.time() * 1000),
        "action": "dislike",
        "duration": 12,
        "total_duration": 240,
    }
    for _ in range(2):
        assert client.post("/api/v1/logs/event", json=event).status_code == 202
    assert likes(client, listener, "dislikes") == [song]


def test_a_disliked_song_is_never_served_again(client, model, listener):
    first = ids(client.get(f"/api/v1/recs/{listener}?limit=10"))
    assert first == cap_per_artist(home_ranking(model, listener), model.artist_of.get, 10, 2)[:10]
    disliked = {first[0], first[3]}
    for song in disliked:
        post_event(client, listener, song, "dislike", 5)

    after = ids(client.get(f"/api/v1/recs/{listener}?limit=10"))
    expected = home_ranking(model, listener, disliked)
    if model.artist_of[first[0]] == model.artist_of[first[3]]:
        expected = home_ranking(model, listener, disliked, {model.artist_of[first[0]]})
    assert after == cap_per_artist(expected, model.artist_of.get, 10, 2)[:10]
    assert not disliked & set(after)

    current = sorted(model.items)[60]
    next_songs = ids(client.get(f"/api/v1/recs/{listener}/{current}?limit=5"))
    post_event(client, listener, next_songs[0], "dislike", 5)
    disliked.add(next_songs[0])
    after = ids(client.get(f"/api/v1/recs/{listener}/{current}?limit=5"))
    assert next_songs[0] not in after
    ranked, _ = expected_next(model, current, disliked)
    pushed = {a for a in map(model.artist_of.get, disliked) if
              sum(model.artist_of[d] == a for d in disliked) >= 2}  # fmt: skip
    ranked = [s for s in ranked if model.artist_of[s] not in pushed] + [
        s for s in ranked if model.artist_of[s] in pushed
    ]
    assert after == cap_per_artist(ranked, model.artist_of.get, 5, 2)[:5]

    # a new session, the same listener: still never offered
    client.application.extensions["recsys"].sessions.forget(listener)
    assert not disliked & set(ids(client.get(f"/api/v1/recs/{listener}?limit=100")))


def test_an_artist_disliked_twice_goes_to_the_end(client, model, listener):
    top = ids(client.get(f"/api/v1/recs/{listener}?limit=10"))[0]
    artist = model.artist_of[top]
    others = [s for s in sorted(model.items) if model.artist_of[s] == artist and s != top][:2]
    assert len(others) == 2, "the demo world gives every artist several songs"
    post_event(client, listener, others[0], "dislike", 5)
    one = ids(client.get(f"/api/v1/recs/{listener}?limit=10"))
    assert one[0] == top  # one dislike: the artist stays where it was

    post_event(client, listener, others[1], "dislike", 5)
    full = ids(client.get(f"/api/v1/recs/{listener}?limit=100"))
    expected = home_ranking(model, listener, set(others), {artist})
    assert full == cap_per_artist(expected, model.artist_of.get, 100, 2)[:100]
    assert top in full and top not in full[:60]  # it was first; now behind the others


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/users/nobody-here/likes", 404), ("/api/v1/users/nobody-here/dislikes", 404)],
)
def test_an_unknown_listener_is_404(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.json["error"] == "unknown_user"
    assert response.json["errors"] == [{"field": "user_id", "reason": "unknown user"}]


def test_an_unknown_action_is_named_and_nothing_is_kept(client, model, listener):
    response = client.post(
        "/api/v1/logs/event",
        json={
            "user_id": listener,
            "track_id": sorted(model.items)[0],
            "timestamp": int(time.time() * 1000),
            "action": "love",
            "duration": 0,
            "total_duration": 240,
        },
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["action"]
    assert likes(client, listener) == []
