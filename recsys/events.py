"""The listening event contract: fields, validation, and the wire format on Kafka.

Pure functions only (no I/O), shared by the web app, the simulator, the Spark landing job
and the tests. Whether ``user_id`` and ``track_id`` exist is checked by the caller against
the catalog; everything else about an event is checked here.

Example
-------
>>> event, errors = validate_event(
...     {"user_id": "u1", "track_id": "s1", "timestamp": 1700000000000,
...      "action": "listen", "duration": 42, "total_duration": 200},
...     now_ms=1700000000000)
>>> errors
[]
>>> event["source"]
'real_user'
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson

ACTIONS = ("listen", "skip", "complete")
SOURCES = ("real_user", "simulation")
REQUIRED_FIELDS = ("user_id", "track_id", "timestamp", "action", "duration", "total_duration")
OPTIONAL_FIELDS = ("event_id", "source", "playback_id")
ALL_FIELDS = ("event_id", *REQUIRED_FIELDS, "source", "playback_id")
MAX_ID_LENGTH = 64
# 2000-01-01T00:00:00Z: anything earlier is a unit mistake (seconds instead of ms).
MIN_TIMESTAMP_MS = 946_684_800_000
# An event that can never describe a real listening: a day-long song.
MAX_DURATION_S = 86_400


@dataclass(frozen=True)
class FieldError:
    """Why one field of one event was rejected."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_id(event: dict, name: str, errors: list[FieldError]) -> None:
    value = event[name]
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be a string"))
    elif not value.strip():
        errors.append(FieldError(name, "must not be empty"))
    elif len(value) > MAX_ID_LENGTH:
        errors.append(FieldError(name, f"must be at most {MAX_ID_LENGTH} characters"))


def _check_seconds(event: dict, name: str, minimum: int, errors: list[FieldError]) -> None:
    value = event[name]
    if not _is_int(value):
        errors.append(FieldError(name, "must be an integer number of seconds"))
    elif value < minimum:
        errors.append(FieldError(name, f"must be at least {minimum}"))
    elif value > MAX_DURATION_S:
        errors.append(FieldError(name, f"must be at most {MAX_DURATION_S}"))


def _uuid(value, name: str, errors: list[FieldError]) -> str | None:
    """``value`` in the canonical UUID form, or None with an error naming ``name``."""
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    errors.append(FieldError(name, "must be a UUID string"))
    return None


def validate_event(raw, now_ms: int, max_future_s: int = 300):
    """Check one event against the contract.

    Returns ``(event, errors)``: the normalised event (with ``event_id`` assigned when the
    client sent none, and ``source`` defaulted) when ``errors`` is empty, else ``None``.
    ``playback_id`` is kept only when the client sent one (see ``is_play``).
    """
    if not isinstance(raw, dict):
        return None, [FieldError("event", "must be a JSON object")]
    errors: list[FieldError] = []
    for name in raw:
        if name not in ALL_FIELDS:
            errors.append(FieldError(str(name), "unknown field"))
    missing = [name for name in REQUIRED_FIELDS if name not in raw or raw[name] is None]
    errors.extend(FieldError(name, "missing field") for name in missing)

    event = dict(raw)
    if raw.get("event_id") is None:
        event["event_id"] = str(uuid.uuid4())
    else:
        event["event_id"] = _uuid(raw["event_id"], "event_id", errors)
    if "playback_id" in raw:
        if raw["playback_id"] is None:
            del event["playback_id"]
        else:
            event["playback_id"] = _uuid(raw["playback_id"], "playback_id", errors)

    for name in ("user_id", "track_id"):
        if name not in missing:
            _check_id(raw, name, errors)

    if "timestamp" not in missing:
        ts = raw["timestamp"]
        if not _is_int(ts):
            errors.append(FieldError("timestamp", "must be an integer (epoch milliseconds)"))
        elif ts < MIN_TIMESTAMP_MS:
            errors.append(FieldError("timestamp", "is before 2000-01-01; send epoch milliseconds"))
        elif ts > now_ms + max_future_s * 1000:
            errors.append(FieldError("timestamp", f"is more than {max_future_s} s in the future"))

    if "action" not in missing and raw["action"] not in ACTIONS:
        errors.append(FieldError("action", f"must be one of {', '.join(ACTIONS)}"))

    if "duration" not in missing:
        _check_seconds(raw, "duration", 0, errors)
    if "total_duration" not in missing:
        _check_seconds(raw, "total_duration", 1, errors)
    if (
        not any(e.field in ("duration", "total_duration") for e in errors)
        and "duration" not in missing
        and "total_duration" not in missing
        and raw["duration"] > raw["total_duration"]
    ):
        errors.append(FieldError("duration", "must not exceed total_duration"))

    source = raw.get("source", "real_user")
    if source not in SOURCES:
        errors.append(FieldError("source", f"must be one of {', '.join(SOURCES)}"))
    event["source"] = source

    if errors:
        return None, errors
    return event, []


def is_play(
    action: str, duration: int, play_min_seconds: int = 30, playback_id: str | None = None
) -> bool:
    """Whether an event counts as one play (one playback heard, counted once).

    An event without a ``playback_id`` stands for a whole playback: it is a play when it is a
    listen heard for at least ``play_min_seconds``, or a complete. A client that reports
    progress (the web player) gives all the events of one playback the same ``playback_id``
    and sends a listen once ``play_min_seconds`` have been heard: that listen is the play, and
    the playback's complete is a play only when it came before the mark (a song shorter than
    ``play_min_seconds``, or one seeked to its end), so no playback counts twice.
    """
    if action == "listen":
        return duration >= play_min_seconds
    return action == "complete" and (playback_id is None or duration < play_min_seconds)


def is_progress(action: str, playback_id: str | None) -> bool:
    """A listen with a ``playback_id`` only reports that the play mark was reached: the
    playback's end (skip or complete) reports all its seconds heard again, so they are
    counted from the end alone."""
    return action == "listen" and playback_id is not None


def encode(event: dict) -> bytes:
    """The Kafka message value: the event as compact UTF-8 JSON, fields in contract order
    (``playback_id`` only when the event has one)."""
    return orjson.dumps({k: event[k] for k in ALL_FIELDS if k in event})


def key(event: dict) -> bytes:
    """The Kafka message key: user_id, so one listener's events stay in order."""
    return event["user_id"].encode()
