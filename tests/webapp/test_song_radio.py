"""Similar songs, song radio and playlist suggestions against the real PostgreSQL + pgvector,
Redis and Kafka, on a model whose vectors the test knows (tests/webapp/test_recs_api.py's):
each answer is checked against the formulas computed here by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from flask.testing import FlaskClient

from recsys import continuation, db
from recsys.ranking import cap_per_artist
from tests.kafka_helpers import end_offsets, records_since
from tests.webapp.test_recs_api import expected_next, ids, post_event
from webapp import create_app

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 7, "gaps": True}  # served to the app (conftest.py), as in test_recs_api

API = "/api/v1"


@pytest.fixture
def listener(model, fresh_listener):
    """A listener the model knows, with no session, dislikes or playlists."""
    return fresh_listener(sorted(model.users)[9])


@pytest.fixture
def taken_down(postgres):
    """``take_down(song)``: the song taken down until the test ends."""
    songs = []

    def take_down(song):
        songs.append(song)
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (song,))

    yield take_down
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = null where id = any(%s)", (songs,))


# --- similar songs ----------------------------------------------------------------------


def test_similar_songs_are_the_next_song_blend_with_no_listener(app, model):
    anonymous = FlaskClient(app)  # no token at all
    seed = sorted(model.items)[40]
    response = anonymous.get(f"{API}/songs/{seed}/similar?limit=10")
    assert response.status_code == 200, response.json
    assert (response.json["mode"], response.json["model_version"]) == ("hybrid", model.version)
    ranked, scores = expected_next(model, seed, set())
    assert ids(response) == cap_per_artist(ranked, model.artist_of.get, 10, 2)[:10]
    for item in response.json["items"]:
        assert item["score"] == pytest.approx(scores[item["song_id"]], abs=1e-4)
        lyrics_led = 0.4 * item["content_score"] > 0.6 * item["als_score"]
        reason = item["reason"]
        assert reason["kind"] == ("similar_lyrics" if lyrics_led else "similar_listeners")
        assert reason["song_id"] == seed and reason["title"] in reason["text"]

    second = anonymous.get(f"{API}/songs/{seed}/similar?limit=10&offset=10")
    assert ids(second) == cap_per_artist(ranked, model.artist_of.get, 10, 2)[10:20]
    assert [i["rank"] for i in second.json["items"]] == list(range(11, 21))
    again = anonymous.get(f"{API}/songs/{seed}/similar?limit=10")  # from the kept list
    assert again.json["items"] == response.json["items"]


def test_similar_songs_leave_out_songs_taken_down_and_a_seed_taken_down_is_404(
    app, client, model, taken_down
):
    seed = sorted(model.items)[41]
    first = ids(client.get(f"{API}/songs/{seed}/similar?limit=5"))
    taken_down(first[0])
    # the worker kept the seed's list: the song taken down is left out of it
    after = ids(client.get(f"{API}/songs/{seed}/similar?limit=5"))
    assert first[0] not in after
    ranked, _ = expected_next(model, seed, set())
    kept = [s for s in ranked if s != first[0]]
    assert after == cap_per_artist(kept, model.artist_of.get, 5, 2)[:5]
    # a worker that kept nothing reads the candidates without it
    fresh = create_app(app.config["RECSYS"])
    try:
        recomputed = ids(fresh.test_client().get(f"{API}/songs/{seed}/similar?limit=5"))
    finally:
        fresh.extensions["recsys"].close()
    ranked, _ = expected_next(model, seed, {first[0]})
    assert recomputed == cap_per_artist(ranked, model.artist_of.get, 5, 2)[:5]

    taken_down(seed)
    gone = client.get(f"{API}/songs/{seed}/similar")
    assert gone.status_code == 404 and gone.json["errors"][0]["field"] == "song_id"
    assert client.get(f"{API}/songs/no-such-song/similar").status_code == 404


def test_similar_songs_of_a_song_without_lyrics_or_als(client, model):
    response = client.get(f"{API}/songs/{model.no_lyrics_song}/similar?limit=10")
    assert response.json["mode"] == "als_only"
    ranked, _ = expected_next(model, model.no_lyrics_song, set())
    assert ids(response) == cap_per_artist(ranked, model.artist_of.get, 10, 2)[:10]
    response = client.get(f"{API}/songs/{model.no_als_song}/similar?limit=10")
    assert response.json["mode"] == "content_only"
    assert {i["reason"]["kind"] for i in response.json["items"]} == {"similar_lyrics"}


# --- song radio -------------------------------------------------------------------------


def expected_radio(model, seed, steer, exclude, limit=10, w=0.3):
    """0.7 * the seed's next-song score + 0.3 * the steering song's (radio_session_weight),
    capped."""
    seed_ranked, seed_scores = expected_next(model, seed, exclude)
    if steer is None:
        return cap_per_artist(seed_ranked, model.artist_of.get, limit, 2)[:limit]
    # the steering song's next songs (normalised with the seed among them), less the seed
    _, steer_scores = expected_next(model, steer, exclude)
    steer_scores.pop(seed, None)
    blended = {
        s: (1 - w) * seed_scores.get(s, 0.0) + w * steer_scores.get(s, 0.0)
        for s in seed_scores.keys() | steer_scores.keys()
    }
    ranked = sorted(blended, key=lambda s: (-blended[s], s))
    return cap_per_artist(ranked, model.artist_of.get, limit, 2)[:limit], blended


def test_a_radio_refills_from_the_seed_and_the_session_and_skips_steer_away(
    client, model, listener
):
    songs = sorted(model.items)
    seed = songs[70]
    url = f"{API}/recs/{listener}/radio/{seed}?limit=10"

    first = client.get(url)
    assert first.status_code == 200, first.json
    assert first.json["song_id"] == seed and first.json["mode"] == "hybrid"
    assert ids(first) == expected_radio(model, seed, None, set())
    assert [i["position"] for i in first.json["items"]] == list(range(1, 11))

    heard = ids(first)[0]
    post_event(client, listener, heard, "complete", 240)  # a qualifying play steers
    steered = client.get(url)
    expected, blended = expected_radio(model, seed, heard, {heard})
    assert ids(steered) == expected
    assert expected != expected_radio(model, seed, None, {heard})  # the play did steer
    for item in steered.json["items"]:
        assert item["score"] == pytest.approx(blended[item["song_id"]], abs=1e-4)
    assert heard not in ids(steered)

    skipped = ids(steered)[0]
    post_event(client, listener, skipped, "skip", 3)  # a skip only leaves
    after_skip = client.get(url)
    expected, _ = expected_radio(model, seed, heard, {heard, skipped})
    assert ids(after_skip) == expected and skipped not in ids(after_skip)


def test_a_radio_is_recorded_as_a_radio_impression(app, client, model, listener, settings):
    topic = settings.kafka_impressions_topic
    before = end_offsets(settings, topic)
    seed = sorted(model.items)[71]
    answer = client.get(f"{API}/recs/{listener}/radio/{seed}?limit=4").json
    app.extensions["recsys"].impression_log.flush(timeout_s=30)
    records = {r["rec_id"]: r for r in records_since(settings, before, topic)}
    record = records[answer["rec_id"]]
    assert (record["surface"], record["seed_song_id"], record["user_id"]) == (
        "radio",
        seed,
        listener,
    )
    assert record["song_ids"] == ids_of(answer) and record["positions"] == [1, 2, 3, 4]


def ids_of(answer):
    return [item["song_id"] for item in answer["items"]]


def test_a_radio_for_someone_else_or_an_unknown_song_is_refused(app, client, model, listener):
    from tests.auth_helpers import listener_headers

    settings = app.config["RECSYS"]
    seed = sorted(model.items)[72]
    other = sorted(model.users)[10]
    theirs = listener_headers(settings, other)
    assert client.get(f"{API}/recs/{listener}/radio/{seed}", headers=theirs).status_code == 403
    assert FlaskClient(app).get(f"{API}/recs/{listener}/radio/{seed}").status_code == 401
    mine = listener_headers(settings, listener)
    assert client.get(f"{API}/recs/{listener}/radio/{seed}", headers=mine).status_code == 200
    missing = client.get(f"{API}/recs/{listener}/radio/no-such-song")
    assert missing.status_code == 404 and missing.json["errors"][0]["field"] == "song_id"
    assert client.get(f"{API}/recs/nobody-at-all/radio/{seed}").status_code == 404


# --- playlist suggestions ---------------------------------------------------------------


def expected_suggestions(model, held, disliked=(), pool=100, k=10, page=10):
    """The exact candidates near the playlist's centroid (every song scored), then the
    continuation formula."""
    skip = set(held) | set(disliked)
    with_items = [model.items[s] for s in held if s in model.items]
    q = np.mean(with_items, axis=0)
    q = q / np.linalg.norm(q)
    by_als = sorted((s for s in model.items if s not in skip), key=lambda s: -model.items[s] @ q)
    unit = {s: v / np.linalg.norm(v) for s, v in model.lyrics.items()}
    m = np.mean([unit[s] for s in held if s in unit], axis=0)
    by_lyrics = sorted(
        (s for s in model.lyrics if s not in skip),
        key=lambda s: -(unit[s] @ m) / np.linalg.norm(m),
    )
    candidates = list(dict.fromkeys(by_als[:pool] + by_lyrics[:pool]))
    return continuation.rank(
        held, candidates, model.items, model.lyrics, model.artist_of, k, page_size=page
    )


def test_playlist_suggestions_fit_its_songs_and_leave_out_what_it_holds(
    client, model, listener, app
):
    songs = sorted(model.items)
    held = songs[100:106]
    pid = client.post(f"{API}/users/{listener}/playlists", json={"name": "Mix"}).json["id"]
    added = client.post(f"{API}/playlists/{pid}/songs", json={"song_ids": held})
    assert added.status_code == 201

    response = client.get(f"{API}/playlists/{pid}/suggestions?limit=10")
    assert response.status_code == 200, response.json
    expected = expected_suggestions(model, held)
    assert ids(response) == [s.song_id for s in expected]
    assert not set(ids(response)) & set(held)
    for item, want in zip(response.json["items"], expected, strict=True):
        assert item["score"] == pytest.approx(want.score, abs=1e-4)
        assert item["reason"]["kind"] == "fits_playlist"
        assert item["reason"]["song_id"] == want.like and want.like in held
        assert item["reason"]["text"].startswith("Fits Mix: like ")
    per_artist = [model.artist_of[s] for s in ids(response)]
    assert max(per_artist.count(a) for a in per_artist) <= 2

    second = client.get(f"{API}/playlists/{pid}/suggestions?limit=10&offset=10")
    page_two = expected_suggestions(model, held, k=20)[10:]
    assert ids(second) == [s.song_id for s in page_two]

    # a song the owner disliked is never suggested
    disliked = ids(response)[0]
    post_event(client, listener, disliked, "dislike", 0)
    after = client.get(f"{API}/playlists/{pid}/suggestions?limit=10")
    assert disliked not in ids(after)
    assert ids(after) == [s.song_id for s in expected_suggestions(model, held, [disliked])]


def test_suggestions_of_an_empty_playlist_are_empty(client, listener):
    pid = client.post(f"{API}/users/{listener}/playlists", json={"name": "Empty"}).json["id"]
    response = client.get(f"{API}/playlists/{pid}/suggestions")
    assert response.status_code == 200 and response.json["items"] == []
