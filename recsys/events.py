"""The listening event contract: one pydantic model (validation, field-named errors and the
API's JSON schema), and the wire format on Kafka.

Pure functions only (no I/O), shared by the web app, the simulator, the Spark landing job
and the tests. Whether ``user_id`` and ``track_id`` exist is checked by the caller against
the catalog; everything else about an event is checked here. Its text rule (``Text``: what
PostgreSQL can store) and its error wording (``field_errors``) serve the API's other inputs too.

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

import os
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

# like, unlike and dislike are the player's buttons: no play, a listener's word on a song
# (kept per listener and song by the web app; weighed by ALS).
Action = Literal["listen", "skip", "complete", "like", "unlike", "dislike"]
# Actions only the web app itself publishes, never accepted from a client: a song added to a
# playlist (POST /api/v1/playlists/<id>/songs; weighed by ALS as a positive signal).
ServerAction = Literal["add_to_playlist"]
Source = Literal["real_user", "simulation"]
# Where the song was played from (recsys.impressions.SURFACES are the recommending ones).
Surface = Literal["home", "up_next", "search", "trending", "playlist", "radio", "mix"]
# Every action of the log (the lake lands these): the clients' and the web app's own.
ACTIONS: tuple[str, ...] = get_args(Action) + get_args(ServerAction)
FEEDBACK_ACTIONS = ("like", "unlike", "dislike")
SOURCES: tuple[str, ...] = get_args(Source)
SURFACES: tuple[str, ...] = get_args(Surface)
# The order of the fields on the wire (see ``encode``).
ALL_FIELDS = (
    "event_id", "user_id", "track_id", "timestamp", "action", "duration", "total_duration",
    "source", "playback_id", "rec_id", "surface", "position",
)  # fmt: skip
# Optional fields kept only when the client sent them (the wire format omits them otherwise).
SENT_ONLY_FIELDS = ("playback_id", "rec_id", "surface", "position")
MAX_ID_LENGTH = 64
# 2000-01-01T00:00:00Z: anything earlier is a unit mistake (seconds instead of ms).
MIN_TIMESTAMP_MS = 946_684_800_000
# An event that can never describe a real listening: a day-long song.
MAX_DURATION_S = 86_400
# A position beyond any list the API pages through (RECSYS_RECS_CANDIDATE_POOL is lower).
MAX_POSITION = 10_000

# PostgreSQL text holds no NUL character; a lone surrogate is no UTF-8 at all (pydantic
# rejects it as string_unicode as soon as a string has a constraint, this pattern included).
NO_NUL = r"^[^\x00]*$"
Text = Annotated[StrictStr, StringConstraints(pattern=NO_NUL)]


def not_blank(value: str) -> str:
    """A string with more than white space in it."""
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PydanticCustomError("uuid", "must be a UUID string") from None


Id = Annotated[Text, StringConstraints(max_length=MAX_ID_LENGTH), AfterValidator(not_blank)]
UuidText = Annotated[
    StrictStr, AfterValidator(_canonical_uuid), Field(json_schema_extra={"format": "uuid"})
]


@dataclass(frozen=True)
class FieldError:
    """Why one field of one event (or of one request) was rejected."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


# pydantic's error types in the contract's words; ``{name}`` is filled from the error's context.
REASONS = {
    "missing": "missing field",
    "extra_forbidden": "unknown field",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "string_unicode": "must be valid UTF-8 text (no lone surrogates)",
    "string_pattern_mismatch": "must not contain a NUL character",  # NO_NUL is the only pattern
    "string_too_long": "must be at most {max_length} characters",
    "string_too_short": "must be at least {min_length} characters",
    "too_long": "must hold at most {max_length} items",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be one of {expected}",
}


def _reason(error: dict, overrides: dict[tuple[str, str], str], field: str) -> str:
    kind = error["type"]
    if (field, kind) in overrides:
        return overrides[(field, kind)]
    if kind not in REASONS:  # our own PydanticCustomErrors carry our wording
        return error["msg"]
    ctx = dict(error.get("ctx") or {})
    if kind == "literal_error":  # "'listen', 'skip' or 'complete'" -> "listen, skip, complete"
        ctx["expected"] = ", ".join(re.findall(r"'([^']*)'", ctx["expected"]))
    return REASONS[kind].format(**ctx)


def field_errors(
    err: ValidationError, whole: str, overrides: dict[tuple[str, str], str] | None = None
) -> list[FieldError]:
    """One FieldError per problem pydantic found, named by the top-level field (``whole``
    when the input itself is wrong, e.g. not an object); ``overrides`` words a
    ``(field, error type)`` the domain's way."""
    found = []
    for error in err.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else whole
        found.append(FieldError(field, _reason(error, overrides or {}, field)))
    return found


class Event(BaseModel):
    """One listening event as a client sends it. Besides each field's own rule:
    ``timestamp`` at most RECSYS_EVENT_MAX_FUTURE_S (300) seconds ahead of the server's
    clock, ``duration`` at most ``total_duration``, and ``user_id`` and ``track_id`` known
    to the catalog. A null field counts as absent (a null ``source`` is no source).
    """

    # The rules across fields or against the clock are validate_event's (_relative_errors).

    model_config = ConfigDict(extra="forbid", title="Event")

    event_id: UuidText | None = Field(None, description="Idempotency key; assigned when absent.")
    user_id: Id
    track_id: Id
    timestamp: Annotated[StrictInt, Field(ge=MIN_TIMESTAMP_MS, description="Epoch milliseconds.")]
    action: Action
    duration: Annotated[StrictInt, Field(ge=0, le=MAX_DURATION_S, description="Seconds heard.")]
    total_duration: Annotated[
        StrictInt, Field(ge=1, le=MAX_DURATION_S, description="Length of the song in seconds.")
    ]
    source: Source = "real_user"
    playback_id: UuidText | None = Field(
        None,
        description=(
            "Optional UUID shared by the events of one playback, for clients that report"
            " progress (a listen once 30 s are heard, then the complete or skip): the playback"
            " is then one play, and its seconds heard are those of its last event."
        ),
    )

    rec_id: UuidText | None = Field(
        None,
        description=(
            "Optional: the rec_id of the recommendation answer the song was played from"
            " (GET /recs/...), which ties the event to that answer's impression."
        ),
    )
    surface: Surface | None = Field(None, description="Optional: where the song was played from.")
    position: Annotated[StrictInt, Field(ge=1, le=MAX_POSITION)] | None = Field(
        None, description="Optional: the song's 1-based position in that list."
    )

    WORDING: ClassVar[dict[tuple[str, str], str]] = {
        ("timestamp", "int_type"): "must be an integer (epoch milliseconds)",
        ("timestamp", "greater_than_equal"): "is before 2000-01-01; send epoch milliseconds",
        ("duration", "int_type"): "must be an integer number of seconds",
        ("total_duration", "int_type"): "must be an integer number of seconds",
        ("event_id", "string_type"): "must be a UUID string",
        ("playback_id", "string_type"): "must be a UUID string",
        ("rec_id", "string_type"): "must be a UUID string",
    }


REQUIRED_FIELDS = tuple(n for n in ALL_FIELDS if Event.model_fields[n].is_required())
OPTIONAL_FIELDS = tuple(n for n in ALL_FIELDS if n not in REQUIRED_FIELDS)


def new_event_id() -> str:
    """A random (version 4) UUID in canonical form: ``str(uuid.uuid4())`` at a third of its
    cost, which matters at a thousand events per request."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _without_nulls(raw):
    """A null field is a missing one (``source`` excepted: null is no source)."""
    if isinstance(raw, dict) and None in raw.values():
        return {k: v for k, v in raw.items() if v is not None or k == "source"}
    return raw


def _relative_errors(values: dict, failed: set[str], now_ms: int, max_future_s: int):
    """The rules no field checks alone, on the fields that passed their own checks."""
    errors = []
    timestamp = values.get("timestamp")
    if "timestamp" not in failed and timestamp is not None:
        if timestamp > now_ms + max_future_s * 1000:
            errors.append(FieldError("timestamp", f"is more than {max_future_s} s in the future"))
    duration, total = values.get("duration"), values.get("total_duration")
    if not failed & {"duration", "total_duration"} and None not in (duration, total):
        if duration > total:
            errors.append(FieldError("duration", "must not exceed total_duration"))
    return errors


def validate_event(raw, now_ms: int, max_future_s: int = 300):
    """Check one event against the contract.

    Returns ``(event, errors)``: the normalised event (with ``event_id`` assigned when the
    client sent none, and ``source`` defaulted) when ``errors`` is empty, else ``None``.
    ``playback_id``, ``rec_id``, ``surface`` and ``position`` are kept only when the client
    sent them.
    """
    raw = _without_nulls(raw)
    try:
        event = Event.model_validate(raw)
    except ValidationError as err:
        errors = field_errors(err, "event", Event.WORDING)
        values = raw if isinstance(raw, dict) else {}
        errors += _relative_errors(values, {e.field for e in errors}, now_ms, max_future_s)
        return None, errors
    return _normalised(event, now_ms, max_future_s)


_EVENTS = TypeAdapter(list[Event])


def validate_events(raws: list, now_ms: int, max_future_s: int = 300) -> list[tuple]:
    """``validate_event`` of each event, in order. A batch whose events all fit the model
    (the usual case) is checked by one call of the validator, a third cheaper."""
    try:
        models = _EVENTS.validate_python([_without_nulls(raw) for raw in raws])
    except ValidationError:
        return [validate_event(raw, now_ms, max_future_s) for raw in raws]
    return [_normalised(model, now_ms, max_future_s) for model in models]


def _normalised(model: Event, now_ms: int, max_future_s: int):
    event = dict(model.__dict__)  # the fields, a tenth of the cost of model_dump()
    errors = _relative_errors(event, set(), now_ms, max_future_s)
    if errors:
        return None, errors
    if event["event_id"] is None:
        event["event_id"] = new_event_id()
    for name in SENT_ONLY_FIELDS:
        if event[name] is None:
            del event[name]
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
    (the optional SENT_ONLY_FIELDS only when the event has them)."""
    return orjson.dumps({k: event[k] for k in ALL_FIELDS if k in event})


def key(event: dict) -> bytes:
    """The Kafka message key: user_id, so one listener's events stay in order."""
    return event["user_id"].encode()


def producer_config(settings) -> dict:
    """The settings of every producer of the log (``settings``: recsys.settings.Settings):
    the web app's, the benchmark's bare producers and, with its own waits, the simulator's.

    Durable: acks from every in-sync replica, idempotent (a retried batch is written once).
    Every wait is bounded by RECSYS_KAFKA_SEND_TIMEOUT_S, so a request answers within it and
    an event the request did not see acknowledged has also expired in the producer.
    """
    timeout_ms = int(settings.kafka_send_timeout_s * 1000)
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 1,
        "batch_size": 256 * 1024,
        "compression_type": None,
        "max_block_ms": timeout_ms,
        "request_timeout_ms": max(timeout_ms - 500, 1000),
        "delivery_timeout_ms": timeout_ms,
        "reconnect_backoff_max_ms": 1000,
        "bootstrap_timeout_ms": min(timeout_ms, 2000),
        # the client's own sensors cost every send and request some CPU, and nothing reads them
        "metrics_enabled": False,
    }
