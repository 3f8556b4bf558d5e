"""Search, songs, genres and listeners through the API, on the real catalog."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def with_typo(title: str) -> str:
    """The title with one letter of its longest word dropped: 'Midnight' -> 'Midnigt'."""
    word = max(title.split(), key=len)
    return title.replace(word, word[:-2] + word[-1], 1)


def test_search_finds_a_song_despite_a_typo(client, world):
    song = next(s for s in world.songs if max(len(w) for w in s["title"].split()) >= 6)
    response = client.get("/api/v1/search", query_string={"q": with_typo(song["title"])})
    assert response.status_code == 200
    titles = {s["title"] for s in response.json["songs"]}
    assert song["title"] in titles


def test_search_finds_an_artist_by_part_of_the_name(client, world):
    artist = world.artists[0]
    word = max(artist["name"].split(), key=len)
    response = client.get("/api/v1/search", query_string={"q": word.lower()})
    assert artist["id"] in {a["id"] for a in response.json["artists"]}


@pytest.mark.parametrize(("query", "status"), [({}, 400), ({"q": "x" * 101}, 400)])
def test_search_needs_a_reasonable_query(client, query, status):
    response = client.get("/api/v1/search", query_string=query)
    assert response.status_code == status
    assert response.json["errors"][0]["field"] == "q"


def test_song_details_and_unknown_song(client, world):
    song = world.songs[0]
    response = client.get(f"/api/v1/songs/{song['id']}")
    assert response.status_code == 200
    assert response.json["title"] == song["title"]
    assert response.json["artist_id"] == song["artist_id"]
    missing = client.get("/api/v1/songs/no-such-song")
    assert missing.status_code == 404
    assert missing.json["errors"][0]["field"] == "song_id"


def test_a_new_listener_onboards_with_genres(client, world):
    genres = client.get("/api/v1/genres").json["items"]
    assert genres == sorted({s["genre"] for s in world.songs})
    created = client.post(
        "/api/v1/users", json={"display_name": "<b>Ada</b>", "onboarding_genres": genres[:2]}
    )
    assert created.status_code == 201
    user = created.json
    assert user["display_name"] == "<b>Ada</b>" and user["onboarding_genres"] == genres[:2]
    assert client.get(f"/api/v1/users/{user['id']}").json == user
    changed = client.put(f"/api/v1/users/{user['id']}/genres", json={"onboarding_genres": []})
    assert changed.status_code == 200 and changed.json["onboarding_genres"] == []
    listed = client.get("/api/v1/users?limit=100").json
    assert user["id"] in {u["id"] for u in listed["items"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"onboarding_genres": []}, "display_name"),
        ({"display_name": "  "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"display_name": "Bo", "onboarding_genres": "rock"}, "onboarding_genres"),
        ({"display_name": "Bo", "onboarding_genres": ["no-such-genre"]}, "onboarding_genres"),
        ([1, 2], "body"),
    ],
)
def test_bad_listeners_are_rejected_naming_the_field(client, body, field):
    before = client.get("/api/v1/users?limit=1").json["total"]
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json["errors"]}
    assert client.get("/api/v1/users?limit=1").json["total"] == before


def test_users_body_must_be_json(client):
    response = client.post("/api/v1/users", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert client.put("/api/v1/users/nobody/genres", json={}).status_code == 404
