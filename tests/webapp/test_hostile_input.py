"""Input PostgreSQL cannot store, and bodies with fields nobody declared, found by trying the
API as a new user: each gets a 4xx naming the field, never a 500, never a 503 that invites
a retry, and nothing is written."""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import pytest

from tests.kafka_helpers import end_offsets, records_since

pytestmark = pytest.mark.integration

NUL = "\x00"


def fields(response) -> set[str]:
    return {e["field"] for e in response.get_json().get("errors", [])}


def nul_paths(world) -> list[tuple[str, str]]:
    user, song, odd = world.users[0]["id"], world.songs[0]["id"], quote(f"a{NUL}b")
    return [
        (f"/api/v1/songs/{odd}", "song_id"),
        (f"/api/v1/users/{odd}", "user_id"),
        (f"/api/v1/recs/{odd}", "user_id"),
        (f"/api/v1/recs/{user}/{odd}", "song_id"),
        (f"/api/v1/recs/{odd}/{song}", "user_id"),
        (f"/api/v1/trending/history?song_id={odd}", "song_id"),
        (f"/api/v1/search?q={odd}", "q"),
    ]


def test_a_nul_in_a_path_or_query_parameter_is_a_400_naming_it(client, world):
    for path, field in nul_paths(world):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code, response.data[:200])
        assert response.get_json()["error"] == "invalid_parameter", path
        assert fields(response) == {field}, path


def test_a_nul_in_an_admin_run_id_is_a_400_naming_it(client, settings):
    admin = {"Authorization": f"Bearer {settings.admin_token}"}
    response = client.get(f"/api/v1/admin/runs/admin__als_training__x{quote(NUL)}", headers=admin)
    assert response.status_code == 400
    assert fields(response) == {"run_id"}


@pytest.fixture
def event(world):
    song = world.songs[0]
    return {
        "user_id": world.users[0]["id"],
        "track_id": song["id"],
        "timestamp": int(time.time() * 1000),
        "action": "skip",
        "duration": 5,
        "total_duration": song["duration_s"],
    }


@pytest.mark.parametrize("field", ["user_id", "track_id"])
def test_an_event_carrying_a_nul_is_rejected_naming_the_field_not_a_503(
    client, event, settings, field
):
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/event", json={**event, field: f"{event[field]}{NUL}"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"] == "invalid_event"
    assert fields(response) == {field}
    assert end_offsets(settings) == before


def test_a_nul_in_one_event_of_a_batch_rejects_that_event_only(client, event, settings):
    good = str(uuid.uuid4())
    batch = [{**event, "event_id": good}, {**event, "user_id": f"u{NUL}"}]
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/events", json={"events": batch})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["errors"] == [
        {"field": "user_id", "reason": body["results"][1]["errors"][0]["reason"]}
    ]
    assert [r["event_id"] for r in records_since(settings, before)] == [good]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": f"Ada{NUL}"}, "display_name"),
        ({"display_name": "Ada", "onboarding_genres": [f"rock{NUL}"]}, "onboarding_genres"),
        ({"display_name": "Ada", "display_nam": "typo"}, "display_nam"),
    ],
)
def test_a_new_listener_with_a_nul_or_an_unknown_field_is_not_saved(client, body, field):
    before = client.get("/api/v1/users?limit=1").get_json()["total"]
    response = client.post("/api/v1/users", json=body)
    assert response.status_code == 422, response.data[:300]
    assert field in fields(response)
    assert client.get("/api/v1/users?limit=1").get_json()["total"] == before


@pytest.fixture
def listener(client):
    genres = client.get("/api/v1/genres").get_json()["items"]
    answer = client.post(
        "/api/v1/users", json={"display_name": "Grace", "onboarding_genres": genres[:1]}
    )
    assert answer.status_code == 201
    return answer.get_json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"onboarding_genre": []}, "onboarding_genre"),  # the misspelling that cleared genres
        ({}, "onboarding_genres"),
        ({"onboarding_genres": [], "extra": 1}, "extra"),
        ({"onboarding_genres": [f"x{NUL}"]}, "onboarding_genres"),
    ],
)
def test_changing_genres_with_a_wrong_body_changes_nothing(client, listener, body, field):
    path = f"/api/v1/users/{listener['id']}"
    response = client.put(f"{path}/genres", json=body)
    assert response.status_code == 422, response.data[:300]
    assert field in fields(response)
    assert client.get(path).get_json()["onboarding_genres"] == listener["onboarding_genres"]


def test_a_nul_in_the_listener_id_of_a_genre_change_is_a_400(client):
    response = client.put(f"/api/v1/users/a{quote(NUL)}/genres", json={"onboarding_genres": []})
    assert response.status_code == 400
    assert fields(response) == {"user_id"}


def test_a_batch_with_an_unknown_field_is_a_400_naming_it(client, event, settings):
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/events", json={"events": [event], "evnets": []})
    assert response.status_code == 400
    assert fields(response) == {"evnets"}
    assert end_offsets(settings) == before
