"""The event contract's validation, case by case (pure, no services)."""

import json
import uuid

import pytest

from recsys import events

NOW = 1_800_000_000_000


def good(**overrides):
    event = {
        "user_id": "u1",
        "track_id": "s1",
        "timestamp": NOW - 1000,
        "action": "listen",
        "duration": 42,
        "total_duration": 200,
    }
    event.update(overrides)
    return event


def reasons(raw, **kwargs):
    event, errors = events.validate_event(raw, NOW, **kwargs)
    assert (event is None) == bool(errors)
    return {e.field: e.reason for e in errors}


def test_valid_event_gets_an_event_id_and_default_source():
    event, errors = events.validate_event(good(), NOW)
    assert errors == []
    assert uuid.UUID(event["event_id"]).version == 4
    assert event["source"] == "real_user"


def test_client_event_id_is_kept_in_canonical_form():
    eid = str(uuid.uuid4())
    event, _ = events.validate_event(good(event_id=eid.upper()), NOW)
    assert event["event_id"] == eid


@pytest.mark.parametrize("field", events.REQUIRED_FIELDS)
def test_missing_field_is_named(field):
    raw = good()
    del raw[field]
    assert reasons(raw)[field] == "missing field"


@pytest.mark.parametrize(
    ("overrides", "field", "reason_part"),
    [
        ({"timestamp": "yesterday"}, "timestamp", "integer"),
        ({"timestamp": True}, "timestamp", "integer"),
        ({"timestamp": 1_700_000_000}, "timestamp", "milliseconds"),
        ({"timestamp": NOW + 301_000}, "timestamp", "future"),
        ({"action": "pause"}, "action", "one of listen, skip, complete"),
        ({"duration": 3.5}, "duration", "integer"),
        ({"duration": -1}, "duration", "at least 0"),
        ({"total_duration": 0}, "total_duration", "at least 1"),
        ({"duration": 201}, "duration", "must not exceed total_duration"),
        ({"user_id": 7}, "user_id", "string"),
        ({"track_id": "  "}, "track_id", "empty"),
        ({"track_id": "x" * 65}, "track_id", "at most 64"),
        ({"event_id": "not-a-uuid"}, "event_id", "UUID"),
        ({"source": "bot"}, "source", "real_user, simulation"),
        ({"durration": 5}, "durration", "unknown field"),
    ],
)
def test_each_bad_field_is_named_with_its_reason(overrides, field, reason_part):
    assert reason_part in reasons(good(**overrides))[field]


def test_future_tolerance_is_a_parameter():
    assert reasons(good(timestamp=NOW + 20_000), max_future_s=10)
    assert not reasons(good(timestamp=NOW + 20_000), max_future_s=30)


def test_every_problem_is_reported_at_once():
    errors = reasons({"action": "pause", "duration": 5})
    assert errors["action"].startswith("must be one of")
    assert {"user_id", "track_id", "timestamp", "total_duration"} <= errors.keys()


def test_non_object_is_rejected():
    assert reasons(["not", "an", "event"]) == {"event": "must be a JSON object"}


@pytest.mark.parametrize(
    ("action", "duration", "expected"),
    [("listen", 30, True), ("listen", 29, False), ("complete", 5, True), ("skip", 100, False)],
)
def test_play_rule(action, duration, expected):
    assert events.is_play(action, duration) is expected


def test_wire_format_round_trips_in_contract_order():
    event, _ = events.validate_event(good(), NOW)
    decoded = json.loads(events.encode(event))
    assert list(decoded) == [k for k in events.ALL_FIELDS if k not in events.SENT_ONLY_FIELDS]
    assert decoded == {k: event[k] for k in decoded}
    assert events.key(event) == b"u1"


REC_ID = "0b8e0f4e-51b5-4c53-9b61-3f0d2f3f7a10"


def test_attribution_fields_are_kept_when_sent_and_in_contract_order_on_the_wire():
    sent = {**good(), "position": 3, "surface": "home", "rec_id": REC_ID.upper()}
    event, errors = events.validate_event(sent, NOW)
    assert errors == []
    assert (event["rec_id"], event["surface"], event["position"]) == (REC_ID, "home", 3)
    decoded = json.loads(events.encode(event))
    assert list(decoded)[-3:] == ["rec_id", "surface", "position"]
    only_surface, _ = events.validate_event({**good(), "surface": "search", "rec_id": None}, NOW)
    assert only_surface["surface"] == "search" and "rec_id" not in only_surface
    assert "position" not in only_surface


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("rec_id", "r-1", "must be a UUID string"),
        ("rec_id", 12, "must be a UUID string"),
        ("surface", "podcast", "must be one of " + ", ".join(events.SURFACES)),
        ("surface", 1, "must be one of " + ", ".join(events.SURFACES)),
        ("position", 0, "must be at least 1"),
        ("position", "2", "must be an integer"),
        ("position", 2.5, "must be an integer"),
        ("position", events.MAX_POSITION + 1, f"must be at most {events.MAX_POSITION}"),
    ],
)
def test_a_bad_attribution_field_is_named(field, value, reason):
    assert reasons({**good(), field: value}) == {field: reason}


@pytest.mark.parametrize(
    ("action", "duration", "expected"),
    [
        ("listen", 30, True),
        ("listen", 20, False),
        ("complete", 200, False),
        ("complete", 20, True),
        ("skip", 100, False),
    ],  # fmt: skip
)
def test_play_rule_within_a_reported_playback(action, duration, expected):
    """With a playback_id the 30-s listen is the play; the complete only for a short song."""
    assert events.is_play(action, duration, 30, playback_id="pb") is expected


def test_playback_id_is_optional_and_must_be_a_uuid():
    playback = "6f1c6a56-3f51-4a37-9a4e-2b0d1b0f6c11"
    event, errors = events.validate_event({**good(), "playback_id": playback.upper()}, NOW)
    assert errors == [] and event["playback_id"] == playback
    assert json.loads(events.encode(event))["playback_id"] == playback
    assert reasons({**good(), "playback_id": "pb-1"}) == {"playback_id": "must be a UUID string"}
    assert reasons({**good(), "playback_id": 7}) == {"playback_id": "must be a UUID string"}
    event, _ = events.validate_event({**good(), "playback_id": None}, NOW)
    assert "playback_id" not in event and "playback_id" not in json.loads(events.encode(event))


@pytest.mark.parametrize("field", ["user_id", "track_id"])
@pytest.mark.parametrize("text", ["a\x00b", "\x00", "a\ud800b"])
def test_an_id_postgresql_cannot_store_is_named(field, text):
    """A NUL or a lone surrogate would fail the catalog lookup (503, retried forever)."""
    assert set(reasons(good(**{field: text}))) == {field}


def test_a_nul_in_a_uuid_or_source_is_named():
    assert set(reasons(good(event_id="\x00", playback_id="\x00", source="real\x00user"))) == {
        "event_id",
        "playback_id",
        "source",
    }


def test_every_field_of_the_contract_is_declared_once():
    """The model, the field lists the Spark job reads and the wire order agree."""
    assert set(events.Event.model_fields) == set(events.ALL_FIELDS)
    schema = events.Event.model_json_schema()
    assert set(schema["required"]) == set(events.REQUIRED_FIELDS)
    assert schema["additionalProperties"] is False


def test_assigned_event_ids_are_random_canonical_uuid4s():
    ids = {events.new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    for event_id in ids:
        parsed = uuid.UUID(event_id)
        assert str(parsed) == event_id
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_batch_is_checked_like_each_of_its_events():
    eid = str(uuid.uuid4())
    batch = [good(event_id=eid), good(action="pause"), 7, good(timestamp=NOW + 301_000)]
    checked = events.validate_events(batch, NOW)
    assert [(e is None, [x.field for x in errs]) for e, errs in checked] == [
        (False, []),
        (True, ["action"]),
        (True, ["event"]),
        (True, ["timestamp"]),
    ]
    assert checked[0][0]["event_id"] == eid
    (only, errors), *_ = events.validate_events([good(playback_id=None)], NOW)
    assert errors == [] and "playback_id" not in only and uuid.UUID(only["event_id"])
    assert events.validate_events([good(duration=201)], NOW)[0][1] == [
        events.FieldError("duration", "must not exceed total_duration")
    ]
