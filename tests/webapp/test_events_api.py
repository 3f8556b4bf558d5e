"""POST /api/v1/logs/event(s) against the real PostgreSQL catalog and the real Kafka broker."""

import time
import uuid

import pytest

from tests.kafka_helpers import end_offsets, records_since

pytestmark = pytest.mark.integration


@pytest.fixture
def event(world):
    song = world.songs[0]
    return {
        "user_id": world.users[0]["id"],
        "track_id": song["id"],
        "timestamp": int(time.time() * 1000),
        "action": "listen",
        "duration": 35,
        "total_duration": song["duration_s"],
    }


def test_accepted_event_is_in_kafka_keyed_by_user(client, event, settings):
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/event", json=event)
    assert response.status_code == 202
    event_id = response.get_json()["event_id"]
    (record,) = records_since(settings, before)
    assert record["event_id"] == event_id
    assert record["_key"] == event["user_id"]
    assert {k: record[k] for k in event} == event
    assert record["source"] == "real_user"


BAD_EVENTS = [
    ("missing field", {"drop": "track_id"}, "track_id", "missing field"),
    ("wrong type", {"duration": "35"}, "duration", "integer"),
    ("unknown action", {"action": "pause"}, "action", "must be one of"),
    (
        "duration over total",
        {"duration": 10_000, "total_duration": 200},
        "duration",
        "exceed total_duration",
    ),
    ("future timestamp", {"timestamp": int(time.time() * 1000) + 3_600_000}, "timestamp", "future"),
    ("unknown user", {"user_id": "no-such-user"}, "user_id", "unknown user"),
    ("unknown track", {"track_id": "no-such-song"}, "track_id", "unknown track"),
]


@pytest.mark.parametrize(
    ("case", "change", "field", "reason"), BAD_EVENTS, ids=[c[0] for c in BAD_EVENTS]
)
def test_bad_event_gets_4xx_naming_the_field_and_nothing_reaches_kafka(
    client, event, settings, case, change, field, reason
):
    change = dict(change)
    if "drop" in change:
        del event[change.pop("drop")]
    event.update(change)
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/event", json=event)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_event"
    assert any(e["field"] == field and reason in e["reason"] for e in body["errors"]), body
    assert end_offsets(settings) == before


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ("user_id=u1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_unparseable_bodies_get_json_errors(client, settings, data, content_type, status, error):
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/event", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert end_offsets(settings) == before


def test_batch_reports_per_event_and_sends_only_the_valid(client, event, settings):
    good_ids = [str(uuid.uuid4()) for _ in range(3)]
    batch = [{**event, "event_id": i} for i in good_ids]
    batch.insert(1, {**event, "action": "pause"})
    batch.append({**event, "track_id": "no-such-song"})
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/events", json={"events": batch})
    assert response.status_code == 202
    body = response.get_json()
    assert (body["accepted"], body["rejected"], body["failed"]) == (3, 2, 0)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["accepted", "rejected", "accepted", "accepted", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "action"
    assert body["results"][4]["errors"][0]["field"] == "track_id"
    assert sorted(r["event_id"] for r in records_since(settings, before)) == sorted(good_ids)


def test_batch_of_only_bad_events_is_422(client, event, settings):
    before = end_offsets(settings)
    response = client.post("/api/v1/logs/events", json={"events": [{**event, "duration": -3}]})
    assert response.status_code == 422
    assert end_offsets(settings) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [({"events": []}, 422), ({"events": "x"}, 400), ([], 400), ({"events": [{}] * 1001}, 413)],
)
def test_batch_shape_errors(client, settings, body, status):
    response = client.post("/api/v1/logs/events", json=body)
    assert response.status_code == status
    assert response.get_json()["errors"][0]["field"] == "events"
