"""The recommendation API against the real PostgreSQL + pgvector and Redis, on a model whose
vectors the test knows: each answer is checked against the formulas computed here by brute
force (exact inner products and cosines over every song)."""

from __future__ import annotations

import dataclasses
import time
import uuid

import numpy as np
import pytest

from recsys import db
from recsys import model_registry as registry
from recsys.model_registry import vectors
from recsys.ranking import cap_per_artist
from tests.webapp.known_model import RANK, KnownModel
from webapp import create_app
from webapp.services.scoring import strongest_contributor
from webapp.services.served_vectors import ServedItemVectors

pytestmark = pytest.mark.integration

# the model served to the app (conftest.py); tests/e2e/test_playlists_browser.py serves it too
KNOWN_MODEL = {"seed": 7, "gaps": True}


@pytest.fixture
def sessions(app):
    with app.app_context():
        return app.extensions["recsys"].sessions


@pytest.fixture
def listener(model, fresh_listener):
    """A user the model knows, with no session, likes, dislikes or playlists yet."""
    return fresh_listener(sorted(model.users)[3])


def post_event(client, user, song, action, heard, at_ms=None, playback_id=None):
    body = {
        "user_id": user,
        "track_id": song,
        "timestamp": at_ms or int(time.time() * 1000),
        "action": action,
        "duration": heard,
        "total_duration": 240,
    }
    if playback_id:
        body["playback_id"] = playback_id
    response = client.post("/api/v1/logs/event", json=body)
    assert response.status_code == 202, response.json
    return response.json


def expected_home(model: KnownModel, query, exclude=(), limit=10, pool=100, cap=2):
    """Exact inner-product ranking over every item, the candidate pool, then the artist cap."""
    scored = sorted(
        ((-float(np.dot(query, v)), s) for s, v in model.items.items() if s not in exclude)
    )[:pool]
    ranked = [s for _, s in scored]
    return cap_per_artist(ranked, model.artist_of.get, limit, cap)


def ids(response):
    return [item["song_id"] for item in response.json["items"]]


def test_long_term_only_is_the_exact_nearest_items(client, model, listener):
    response = client.get(f"/api/v1/recs/{listener}?limit=10")
    assert response.status_code == 200
    assert response.json["mode"] == "long_term"
    assert response.json["model_version"] == model.version
    assert ids(response) == expected_home(model, model.users[listener])[:10]
    scores = [item["score"] for item in response.json["items"]]
    best = ids(response)[0]
    assert scores[0] == pytest.approx(
        float(np.dot(model.users[listener], model.items[best])), abs=1e-4
    )


def test_a_search_with_a_vector_of_another_version_finds_nothing(model, settings):
    """A request that read the active version just before a swap holds that version's vector,
    maybe of another size: its search finds nothing (home then answers with the version now
    served) instead of comparing vectors of two models."""
    query = model.users[sorted(model.users)[3]]
    with db.connect(settings, autocommit=True) as conn:
        assert len(vectors.nearest_items(conn, model.version, query, [], 10, 100)) == 10
        assert vectors.nearest_items(conn, model.version - 1, np.ones(RANK * 2), [], 10, 100) == []


def test_plays_move_the_short_term_vector_by_the_ema_and_the_session_vector(
    client, model, listener, sessions, settings
):
    songs = sorted(model.items)
    a, b, c, d = songs[10], songs[20], songs[30], songs[40]
    post_event(client, listener, a, "listen", 45)
    short = sessions.session(listener).short_term
    assert short == pytest.approx(model.items[a], abs=1e-5)  # the first song sets it
    post_event(client, listener, b, "complete", 240)
    expected_short = 0.5 * model.items[a] + 0.5 * model.items[b]
    assert sessions.session(listener).short_term == pytest.approx(expected_short, abs=1e-5)
    # a skip and a short listen are activity, not taste: v_short stays, the songs are excluded
    post_event(client, listener, c, "skip", 12)
    post_event(client, listener, d, "listen", settings.play_min_seconds - 1)
    session = sessions.session(listener)
    assert session.short_term == pytest.approx(expected_short, abs=1e-5)
    assert set(session.recent) == {a, b, c, d}

    response = client.get(f"/api/v1/recs/{listener}?limit=10")
    assert response.json["mode"] == "session"
    query = 0.7 * model.users[listener] + 0.3 * expected_short
    assert ids(response) == expected_home(model, query, exclude={a, b, c, d})[:10]
    heard = [(b, model.items[b]), (a, model.items[a])]  # newest first
    for item in response.json["items"]:
        source = strongest_contributor(model.items[item["song_id"]], heard, 0.5)
        if source is None:
            assert item["reason"]["kind"] == "taste"
        else:
            assert item["reason"]["kind"] == "because_you_listened"
            assert item["reason"]["song_id"] == source
            assert item["reason"]["text"].startswith("Because you listened to ")


def test_a_players_playback_moves_the_short_term_vector_once(client, model, listener, sessions):
    """The player's listen at 30 s and its complete share a playback_id: one EMA step."""
    songs = sorted(model.items)
    a, b = songs[11], songs[21]
    post_event(client, listener, a, "complete", 240)
    playback = str(uuid.uuid4())
    post_event(client, listener, b, "listen", 30, playback_id=playback)
    post_event(client, listener, b, "complete", 240, playback_id=playback)
    expected_short = 0.5 * model.items[a] + 0.5 * model.items[b]
    assert sessions.session(listener).short_term == pytest.approx(expected_short, abs=1e-5)


def test_two_quick_skips_mark_the_queue_stale(client, model, listener):
    songs = sorted(model.items)
    now = int(time.time() * 1000)
    assert post_event(client, listener, songs[1], "skip", 5, now - 50_000)["queue_stale"] is False
    assert (
        post_event(client, listener, songs[2], "listen", 40, now - 30_000)["queue_stale"] is False
    )
    assert post_event(client, listener, songs[3], "skip", 8, now)["queue_stale"] is True


def test_skips_far_apart_do_not(client, model, listener):
    songs = sorted(model.items)
    now = int(time.time() * 1000)
    assert post_event(client, listener, songs[1], "skip", 5, now - 120_000)["queue_stale"] is False
    assert post_event(client, listener, songs[2], "skip", 5, now)["queue_stale"] is False


def expected_next(model: KnownModel, song: str, exclude: set[str], pool=100, w=0.6):
    """Both candidate sets exactly, merged, both scores min-max normalised over the union."""
    skip = exclude | {song}
    als, content = {}, {}
    if song in model.items:
        q = model.items[song]
        als = {s: float(np.dot(q, v)) for s, v in model.items.items() if s not in skip}
    if song in model.lyrics:
        q = model.lyrics[song]
        content = {
            s: float(np.dot(q, v) / (np.linalg.norm(q) * np.linalg.norm(v)))
            for s, v in model.lyrics.items()
            if s not in skip
        }
    top = lambda d: set(sorted(d, key=lambda s: (-d[s], s))[:pool])  # noqa: E731
    merged = top(als) | top(content)

    def norm(d):
        present = [d[s] for s in merged if s in d]
        low, high = min(present, default=0), max(present, default=0)
        return {s: (d[s] - low) / (high - low) if s in d else 0.0 for s in merged}

    n_als, n_content = norm(als), norm(content)
    scores = {s: w * n_als[s] + (1 - w) * n_content[s] for s in merged}
    return sorted(merged, key=lambda s: (-scores[s], s)), scores


def test_next_song_is_the_hybrid_of_als_and_lyrics(client, model, listener):
    songs = sorted(model.items)
    current = songs[50]
    response = client.get(f"/api/v1/recs/{listener}/{current}?limit=10")
    assert response.status_code == 200
    assert response.json["mode"] == "hybrid"
    ranked, scores = expected_next(model, current, set())
    expected = cap_per_artist(ranked, model.artist_of.get, 10, 2)[:10]
    assert ids(response) == expected
    for item in response.json["items"]:
        assert item["score"] == pytest.approx(scores[item["song_id"]], abs=1e-4)
        assert item["song_id"] != current
        lyrics_led = 0.4 * item["content_score"] > 0.6 * item["als_score"]
        assert item["reason"]["kind"] == (
            "similar_lyrics" if lyrics_led else "because_you_listened"
        )
        assert item["reason"]["song_id"] == current


def test_next_song_excludes_recent_plays(client, model, listener):
    songs = sorted(model.items)
    current = songs[60]
    first = ids(client.get(f"/api/v1/recs/{listener}/{current}?limit=5"))
    post_event(client, listener, first[0], "complete", 240)
    post_event(client, listener, first[1], "skip", 3)
    after = ids(client.get(f"/api/v1/recs/{listener}/{current}?limit=5"))
    assert first[0] not in after and first[1] not in after
    ranked, _ = expected_next(model, current, {first[0], first[1]})
    assert after == cap_per_artist(ranked, model.artist_of.get, 5, 2)[:5]


def test_next_song_without_lyrics_is_als_only_and_without_als_content_only(client, model, listener):
    response = client.get(f"/api/v1/recs/{listener}/{model.no_lyrics_song}?limit=10")
    assert response.json["mode"] == "als_only"
    ranked, _ = expected_next(model, model.no_lyrics_song, set())
    assert ids(response) == cap_per_artist(ranked, model.artist_of.get, 10, 2)[:10]

    response = client.get(f"/api/v1/recs/{listener}/{model.no_als_song}?limit=10")
    assert response.json["mode"] == "content_only"
    ranked, _ = expected_next(model, model.no_als_song, set())
    assert ids(response) == cap_per_artist(ranked, model.artist_of.get, 10, 2)[:10]
    assert {i["reason"]["kind"] for i in response.json["items"]} == {"similar_lyrics"}


def test_pages_never_repeat_and_cap_artists(client, listener, model):
    seen: list[str] = []
    for offset in (0, 10, 20, 30):
        response = client.get(f"/api/v1/recs/{listener}?limit=10&offset={offset}")
        page = ids(response)
        assert len(page) == 10
        artists = [model.artist_of[s] for s in page]
        assert max(artists.count(a) for a in artists) <= 2
        assert [i["rank"] for i in response.json["items"]] == list(range(offset + 1, offset + 11))
        seen.extend(page)
    assert len(seen) == len(set(seen))


def test_cold_start_gets_trending_in_the_onboarding_genres(client, model, postgres):
    genres = sorted(set(model.genre_of.values()))[:1]
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "update catalog.users set onboarding_genres = %s where id = %s",
            (genres, model.cold_user),
        )
        in_genre = conn.execute(
            "select id from catalog.songs where genre = any(%s)"
            " order by plays_7d desc, plays_cumulative desc, id",
            (genres,),
        ).fetchall()
    response = client.get(f"/api/v1/recs/{model.cold_user}?limit=5")
    assert response.json["mode"] == "trending"
    assert {i["reason"]["kind"] for i in response.json["items"]} == {"trending"}
    expected = cap_per_artist([r[0] for r in in_genre], model.artist_of.get, 5, 2)[:5]
    assert ids(response) == expected
    assert {model.genre_of[s] for s in ids(response)} == set(genres)


def test_redis_unreachable_degrades_to_long_term_and_events_still_land(
    world, kafka, settings, model, listener
):
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    app = create_app(broken)
    try:
        client = app.test_client()
        response = client.get(f"/api/v1/recs/{listener}?limit=10")
        assert response.status_code == 200
        assert response.json["mode"] == "long_term"
        assert response.json["degraded"] == ["sessions_unavailable"]
        assert ids(response) == expected_home(model, model.users[listener])[:10]
        accepted = post_event(client, listener, sorted(model.items)[5], "complete", 240)
        assert accepted["status"] == "accepted" and "queue_stale" not in accepted
    finally:
        app.extensions["recsys"].close()


def test_no_active_model_falls_back_to_trending(client, model, listener, postgres):
    with db.connect(postgres, autocommit=True) as conn:
        registry.deactivate(conn)
        try:
            home = client.get(f"/api/v1/recs/{listener}?limit=5")
            assert home.status_code == 200
            assert home.json["mode"] == "trending"
            assert home.json["degraded"] == ["no_active_model"]
            assert len(home.json["items"]) == 5
            following = client.get(f"/api/v1/recs/{listener}/{sorted(model.lyrics)[0]}?limit=5")
            assert following.json["mode"] == "content_only"
            assert following.json["degraded"] == ["no_active_model"]
        finally:
            registry.activate(conn, model.version, by="test_recs_api")


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/recs/nobody", 404, "user_id"),
        ("/api/v1/recs/nobody/s00001", 404, "user_id"),
        ("/api/v1/recs/{user}/no-such-song", 404, "song_id"),
        ("/api/v1/recs/{user}?limit=0", 400, "limit"),
        ("/api/v1/recs/{user}?offset=-1", 400, "offset"),
        ("/api/v1/recs/{user}?limit=abc", 400, "limit"),
    ],
)
def test_bad_requests_name_the_field(client, listener, path, status, field):
    response = client.get(path.format(user=listener))
    assert response.status_code == status
    assert response.json["errors"][0]["field"] == field


def test_a_batch_of_many_listeners_moves_each_session(client, model, sessions):
    users = sorted(model.users)[10:13]
    songs = sorted(model.items)
    now = int(time.time() * 1000)
    events = []
    for n, user in enumerate(users):
        sessions.forget(user)
        events += [
            {"user_id": user, "track_id": songs[n], "timestamp": now - 20_000, "action": "skip",
             "duration": 4, "total_duration": 200},
            {"user_id": user, "track_id": songs[n + 5], "timestamp": now - 10_000,
             "action": "complete", "duration": 200, "total_duration": 200},
            {"user_id": user, "track_id": songs[n + 9], "timestamp": now, "action": "skip",
             "duration": 6, "total_duration": 200},
        ]  # fmt: skip
    response = client.post("/api/v1/logs/events", json={"events": events})
    assert response.status_code == 202
    assert response.json["accepted"] == len(events)
    for n, user in enumerate(users):
        session = sessions.session(user)
        assert session.short_term == pytest.approx(model.items[songs[n + 5]], abs=1e-5)
        assert set(session.recent) == {songs[n], songs[n + 5], songs[n + 9]}
        sessions.forget(user)


class CountedConnections:
    """A pool's ``connection()`` that counts how often it was asked."""

    def __init__(self, settings):
        self.settings, self.asked = settings, 0

    def connection(self):
        self.asked += 1
        return db.connect(self.settings, autocommit=True)


def test_played_songs_vectors_are_kept_and_follow_an_activation_after_the_recheck(model, postgres):
    songs = set(sorted(model.items)[:3]) | {model.no_als_song}
    pool = CountedConnections(postgres)
    kept = ServedItemVectors(recheck_s=3600)
    version, found = kept.lookup(pool, songs)
    assert version == model.version
    assert found.keys() == songs - {model.no_als_song}
    for song, vector in found.items():
        assert vector == pytest.approx(model.items[song], abs=1e-6)
    assert kept.lookup(pool, songs)[1].keys() == found.keys() and pool.asked == 1
    other = sorted(model.items)[5]
    assert kept.lookup(pool, {other})[1][other] == pytest.approx(model.items[other], abs=1e-6)
    assert pool.asked == 2  # only the song not kept yet was read

    with db.connect(postgres, autocommit=True) as conn:
        registry.deactivate(conn)
        try:
            assert kept.lookup(pool, songs)[0] == model.version  # within the recheck
            kept.recheck_s = 0
            assert kept.lookup(pool, songs) == (None, {})
            assert pool.asked == 3
        finally:
            registry.activate(conn, model.version, by="test_recs_api")
    version, found = kept.lookup(pool, songs)
    assert version == model.version and found.keys() == songs - {model.no_als_song}
