"""Songs added after the served model was trained reach listeners before the next retrain:
in next songs through their lyrics vector ("Similar lyrics to <song>"), on the home page by
the artists and genres the listener heard ("New from <artist>", "New in <genre>"), a few at
a time; once a model trained after them is served, they are no longer new."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from tests.webapp.catalog_serving import catalog_row, embed
from tests.webapp.known_model import write_known_model

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 31, "adds_songs": True}  # the model served to the app (conftest.py)


@pytest.fixture(scope="module")
def app_settings(settings):
    # no artist cap, so the new songs' ranks are exactly the slots they take
    return dataclasses.replace(settings, recs_max_per_artist=1000)


def add_songs(client, admin, *rows) -> dict:
    response = client.post("/api/v1/admin/songs", json={"songs": list(rows)}, headers=admin)
    assert response.status_code == 200, response.json
    return response.json


def listener_who_heard(app, client, world, index: int, *songs: str) -> str:
    """A world listener (known to the model) whose session heard ``songs``, completed."""
    user = world.users[index]["id"]
    app.extensions["recsys"].sessions.forget(user)
    now = int(time.time() * 1000)
    for i, song in enumerate(songs):
        body = {
            "user_id": user,
            "track_id": song,
            "timestamp": now + i,
            "action": "complete",
            "duration": 200,
            "total_duration": 200,
        }
        assert client.post("/api/v1/logs/event", json=body).status_code == 202
    return user


def world_song(world, index: int) -> dict:
    return world.songs[index]


def artist_name(conn, artist_id: str) -> str:
    return conn.execute("select name from catalog.artists where id = %s", (artist_id,)).fetchone()[
        0
    ]


def test_a_new_song_with_lyrics_is_a_next_song_of_a_similar_song(client, admin, world, model, conn):
    reference = world_song(world, 10)
    row = catalog_row(
        "new-lyrics-1",
        "Harbour of Paper Boats",
        "new-artist-lyrics",
        "The Paper Boats",
        "lyrics-test-genre",
    )
    assert add_songs(client, admin, row)["songs"] == {"inserted": 1, "updated": 0, "unchanged": 0}
    before = client.get(f"/api/v1/recs/{world.users[2]['id']}/{reference['id']}?limit=100").json
    assert "new-lyrics-1" not in [i["song_id"] for i in before["items"]]  # no vector yet

    noise = np.random.default_rng(1).normal(scale=1e-3, size=model.lyrics[reference["id"]].size)
    embed(conn, "new-lyrics-1", model.lyrics[reference["id"]] + noise)  # as the job would
    answer = client.get(f"/api/v1/recs/{world.users[2]['id']}/{reference['id']}?limit=100").json
    assert answer["mode"] == "hybrid"
    found = {i["song_id"]: i for i in answer["items"]}["new-lyrics-1"]
    assert found["content_score"] == 1.0 and found["als_score"] == 0.0  # the nearest lyrics
    assert found["score"] == pytest.approx(0.7)  # RECSYS_NEXT_SONG_NEW_SONG_WEIGHT x 1
    assert found["reason"] == {
        "kind": "similar_lyrics",
        "song_id": reference["id"],
        "title": reference["title"],
        "text": f"Similar lyrics to {reference['title']}",
    }
    assert found["rank"] < 10


def test_a_new_song_of_an_artist_heard_is_on_the_home_page(app, client, admin, world, conn):
    heard = world_song(world, 20)
    name = artist_name(conn, heard["artist_id"])
    add_songs(
        client,
        admin,
        catalog_row("new-artist-1", "Second Kettle", heard["artist_id"], name, "artist-test-genre"),
    )
    user = listener_who_heard(app, client, world, 4, heard["id"])
    answer = client.get(f"/api/v1/recs/{user}?limit=10").json
    assert answer["mode"] == "session"
    new = [i for i in answer["items"] if i["song_id"].startswith("new-")]
    assert [(i["rank"], i["song_id"]) for i in new] == [(3, "new-artist-1")]
    assert new[0]["reason"] == {
        "kind": "new_from_artist",
        "artist_id": heard["artist_id"],
        "artist": name,
        "text": f"New from {name}",
    }
    assert new[0]["score"] == answer["items"][1]["score"]  # scored like the song above it
    # a listener who heard nothing of that artist or genre gets no new song
    other = client.get(f"/api/v1/recs/{world.users[5]['id']}?limit=10").json
    assert not [i for i in other["items"] if i["song_id"].startswith("new-")]


def test_a_new_song_in_a_genre_heard_is_new_in_that_genre(app, client, admin, world, conn):
    taken = {world_song(world, 20)["artist_id"]}
    heard = next(s for s in world.songs if s["artist_id"] not in taken and s["genre"] == "folk")
    add_songs(
        client,
        admin,
        catalog_row("new-genre-1", "Fern Lullaby", "new-artist-genre", "Moss and Lichen", "folk"),
    )
    user = listener_who_heard(app, client, world, 6, heard["id"])
    items = client.get(f"/api/v1/recs/{user}?limit=10").json["items"]
    new = [i for i in items if i["song_id"].startswith("new-")]
    assert [(i["rank"], i["song_id"]) for i in new] == [(3, "new-genre-1")]
    assert new[0]["reason"] == {"kind": "new_in_genre", "genre": "folk", "text": "New in folk"}


def test_new_songs_take_a_few_slots_only(app, client, admin, world, model, conn):
    heard = world_song(world, 40)
    name = artist_name(conn, heard["artist_id"])
    rows = [
        catalog_row(f"new-many-{i}", f"Many {i}", heard["artist_id"], name, "quota-genre")
        for i in range(4)
    ]
    add_songs(client, admin, *rows)
    user = listener_who_heard(app, client, world, 8, heard["id"])
    items = client.get(f"/api/v1/recs/{user}?limit=20").json["items"]
    new = [(i["rank"], i["song_id"]) for i in items if i["song_id"].startswith("new-")]
    assert new == [(3, "new-many-0"), (6, "new-many-1")]  # RECSYS_RECS_NEW_SONG_SLOTS=2

    reference = world_song(world, 12)
    rng = np.random.default_rng(2)
    for i, row in enumerate(rows):  # ever less similar lyrics
        noise = rng.normal(scale=0.05 * (i + 1), size=model.lyrics[reference["id"]].size)
        embed(conn, row["song_id"], model.lyrics[reference["id"]] + noise)
    answer = client.get(f"/api/v1/recs/{world.users[2]['id']}/{reference['id']}?limit=100").json
    new = [i["song_id"] for i in answer["items"] if i["song_id"].startswith("new-many-")]
    assert new == ["new-many-0", "new-many-1"]


def test_once_a_model_trained_after_them_is_served_they_are_not_new(app, client, world, conn):
    heard = world_song(world, 20)
    write_known_model(conn, world, seed=32, lyrics=False)
    user = listener_who_heard(app, client, world, 4, heard["id"])
    items = client.get(f"/api/v1/recs/{user}?limit=20").json["items"]
    assert not [i for i in items if i["song_id"].startswith("new-")]
    reasons = {i["reason"]["kind"] for i in items}
    assert not reasons & {"new_from_artist", "new_in_genre"}
    # still heard through its lyrics, now scored as any song without an ALS vector
    reference = world_song(world, 10)
    answer = client.get(f"/api/v1/recs/{world.users[2]['id']}/{reference['id']}?limit=100").json
    found = {i["song_id"]: i for i in answer["items"]}["new-lyrics-1"]
    assert found["score"] == pytest.approx(0.4)  # (1 - RECSYS_NEXT_SONG_ALS_WEIGHT) x 1
