"""Catalog admin while serving: songs added in batches through the admin API (all or nothing,
errors named by index and field), and takedowns: from the moment the takedown answers, no
request that starts later returns the song, from home, next songs, trending (the fallback,
the API and a song's history), search or the song's own page, while readers hammer them
from threads."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest

from recsys import db
from tests.webapp.catalog_serving import catalog_row, embed

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 41, "adds_songs": True}  # the model served to the app (conftest.py)

TARGET = "new-takedown-1"
TITLE = "Zanzibar Kettle Drift"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/admin/songs"),
        ("post", "/api/v1/admin/songs/s00001/takedown"),
        ("post", "/api/v1/admin/songs/s00001/restore"),
    ],
)
def test_catalog_admin_needs_the_token(client, method, path):
    response = getattr(client, method)(path, json={"songs": []})
    assert response.status_code == 401


def test_a_batch_is_upserted_and_a_second_time_changes_nothing(client, admin, model):
    rows = [
        catalog_row(f"new-batch-{i}", f"Batch {i}", "new-artist-batch", "Batch Band", "pop")
        for i in range(3)
    ]
    first = client.post("/api/v1/admin/songs", json={"songs": rows}, headers=admin)
    assert first.status_code == 200
    assert first.json == {
        "songs": {"inserted": 3, "updated": 0, "unchanged": 0},
        "artists": {"inserted": 1, "updated": 0, "unchanged": 0},
        "lyrics_changed": 3,
    }
    rows[1]["title"] = "Batch 1 (remastered)"
    again = client.post("/api/v1/admin/songs", json={"songs": rows}, headers=admin).json
    assert again["songs"] == {"inserted": 0, "updated": 1, "unchanged": 2}
    assert client.get("/api/v1/songs/new-batch-1").json["title"] == "Batch 1 (remastered)"


def test_a_batch_with_a_bad_song_writes_nothing_and_names_index_and_field(client, admin):
    rows = [
        catalog_row(f"new-bad-{i}", f"Bad {i}", "new-artist-bad", "Bad Band", "pop")
        for i in range(4)
    ]
    rows[1]["duration_s"] = -5
    rows[3]["release_date"] = "2021-13-01"
    rows[3]["bpm"] = 120
    response = client.post("/api/v1/admin/songs", json={"songs": rows}, headers=admin)
    assert response.status_code == 422
    assert response.json["error"] == "invalid_songs"
    assert response.json["errors"] == [
        {"field": "songs[1].duration_s", "reason": "must be a positive number of seconds"},
        {"field": "songs[3].release_date", "reason": "is not a date of the calendar"},
        {"field": "songs[3].bpm", "reason": "unknown field"},
    ]
    twice = [rows[0], rows[2], dict(rows[0], title="Other")]
    response = client.post("/api/v1/admin/songs", json={"songs": twice}, headers=admin)
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"field": "songs[2].song_id", "reason": "'new-bad-0' is already on line 0"}
    ]
    for song in ("new-bad-0", "new-bad-2"):
        assert client.get(f"/api/v1/songs/{song}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"songs": []}, "songs"),
        ({"songs": [{}] * 1001}, "songs"),
        ({"songs": [], "extra": 1}, "extra"),
        ([1, 2], "body"),
    ],
)
def test_a_batch_must_hold_1_to_1000_songs(client, admin, body, field):
    response = client.post("/api/v1/admin/songs", json=body, headers=admin)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json["errors"]}


def test_takedown_and_restore_are_idempotent_and_unknown_songs_404(client, admin, model):
    row = catalog_row("new-down-1", "Quiet Exit", "new-artist-down", "Exit Band", "pop")
    client.post("/api/v1/admin/songs", json={"songs": [row]}, headers=admin)
    first = client.post("/api/v1/admin/songs/new-down-1/takedown", headers=admin)
    assert first.status_code == 200 and first.json["changed"] and first.json["taken_down"]
    again = client.post("/api/v1/admin/songs/new-down-1/takedown", headers=admin).json
    assert not again["changed"] and again["taken_down_at"] == first.json["taken_down_at"]
    assert client.get("/api/v1/songs/new-down-1").status_code == 404
    restored = client.post("/api/v1/admin/songs/new-down-1/restore", headers=admin).json
    assert restored == {
        "song_id": "new-down-1",
        "taken_down": False,
        "taken_down_at": None,
        "changed": True,
    }
    assert client.get("/api/v1/songs/new-down-1").status_code == 200
    for action in ("takedown", "restore"):
        missing = client.post(f"/api/v1/admin/songs/no-such-song/{action}", headers=admin)
        assert missing.status_code == 404 and missing.json["error"] == "unknown_song"


@pytest.fixture
def everywhere(app, client, admin, world, model, postgres):
    """The target song shown by every read: a new song of an artist a listener heard (home),
    whose lyrics are those of a reference song (next songs), the most played of its genre
    (a cold start's trending), alone in a newer trending snapshot, and found by its title.
    Returns {surface: url}."""
    heard, reference = world.songs[30], world.songs[31]
    with db.connect(postgres, autocommit=True) as conn:
        artist = conn.execute(
            "select name from catalog.artists where id = %s", (heard["artist_id"],)
        ).fetchone()[0]
        row = catalog_row(TARGET, TITLE, heard["artist_id"], artist, "takedown-genre")
        added = client.post("/api/v1/admin/songs", json={"songs": [row]}, headers=admin)
        assert added.status_code == 200
        noise = np.random.default_rng(3).normal(scale=1e-3, size=model.lyrics[reference["id"]].size)
        embed(conn, TARGET, model.lyrics[reference["id"]] + noise)
        conn.execute("update catalog.songs set plays_7d = 10000000 where id = %s", (TARGET,))
        latest = conn.execute("select max(snapshot_date) from analytics.trending_history")
        day = (latest.fetchone()[0] or dt.date.today()) + dt.timedelta(days=1)
        conn.execute(
            "insert into analytics.trending_history (snapshot_date, rank, song_id, artist_id,"
            " plays_7d, listeners_7d) values (%s, 1, %s, %s, 10000000, 1000)",
            (day, TARGET, heard["artist_id"]),
        )
    listener = world.users[3]["id"]
    app.extensions["recsys"].sessions.forget(listener)
    event = {
        "user_id": listener,
        "track_id": heard["id"],
        "timestamp": int(time.time() * 1000),
        "action": "complete",
        "duration": 200,
        "total_duration": 200,
    }
    assert client.post("/api/v1/logs/event", json=event).status_code == 202
    cold = client.post(
        "/api/v1/users", json={"display_name": "Cold Start", "onboarding_genres": []}
    ).json["id"]
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(
            "update catalog.users set onboarding_genres = '{takedown-genre}' where id = %s", (cold,)
        )
    yield {
        "home": f"/api/v1/recs/{listener}?limit=20",
        "next": f"/api/v1/recs/{listener}/{reference['id']}?limit=100",
        "trending fallback": f"/api/v1/recs/{cold}?limit=10",
        "trending": "/api/v1/trending?limit=100",
        "trending history": f"/api/v1/trending/history?song_id={TARGET}",
        "search": f"/api/v1/search?q={TITLE.lower()}&limit=5",
        "song": f"/api/v1/songs/{TARGET}",
    }
    app.extensions["recsys"].sessions.forget(listener)


def shows_target(response) -> bool:
    if response.status_code == 404:
        return False
    assert response.status_code == 200, response.json
    return TARGET.encode() in response.data


def test_a_taken_down_song_is_never_served_by_a_request_started_after_the_answer(
    app, client, admin, everywhere
):
    for surface, url in everywhere.items():
        assert shows_target(client.get(url)), f"{surface} does not show the song to start with"

    seen: list[tuple[float, str, bool]] = []  # (started at, surface, showed the song)
    stop = threading.Event()
    lock = threading.Lock()

    def read(urls):
        reader = app.test_client()
        while not stop.is_set():
            for surface, url in urls:
                started = time.monotonic()
                shown = shows_target(reader.get(url))
                with lock:
                    seen.append((started, surface, shown))

    surfaces = list(everywhere.items())
    readers = [threading.Thread(target=read, args=(surfaces[i::3],)) for i in range(3)]
    for thread in readers:
        thread.start()
    try:
        time.sleep(1.0)
        response = client.post(f"/api/v1/admin/songs/{TARGET}/takedown", headers=admin)
        answered = time.monotonic()
        assert response.status_code == 200
        time.sleep(2.0)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    before = {surface for started, surface, shown in seen if started < answered and shown}
    after = [(surface, shown) for started, surface, shown in seen if started > answered]
    assert before == set(everywhere), "every surface showed the song before the takedown"
    assert {surface for surface, _ in after} == set(everywhere), "every surface read after it"
    assert [surface for surface, shown in after if shown] == []
    # restored, it is served again
    client.post(f"/api/v1/admin/songs/{TARGET}/restore", headers=admin)
    assert shows_target(client.get(everywhere["song"]))
