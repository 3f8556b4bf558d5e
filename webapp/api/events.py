"""POST /api/v1/logs/event and /api/v1/logs/events: capture listening events."""

from __future__ import annotations

import logging
from collections import Counter

import psycopg
from flask import current_app, jsonify
from pydantic import SkipValidation, field_validator
from pydantic_core import PydanticCustomError

from recsys.events import FEEDBACK_ACTIONS, Event
from webapp import metrics
from webapp.api import api
from webapp.api.answers import BatchAnswer, EventAccepted
from webapp.api.auth import caller, listener_required, require_acting_for, require_scope
from webapp.api.params import RATE_LIMITED, Body, Invalid, operation
from webapp.errors import ApiError
from webapp.ratelimit import limited
from webapp.resources import resources
from webapp.services import feedback, sessions
from webapp.services.event_sink import CatalogUnavailable, KafkaUnavailable

log = logging.getLogger(__name__)
EVENTS_FOR_ANYONE = "events:write:any"
# An unacknowledged send may still have reached the log: a retry is safe only with the
# same event_id, which every job deduplicates on.
KAFKA_UNAVAILABLE = (
    "the event log did not confirm the event; retry later with the same event_id"
    " (duplicates of an event_id are counted once)"
)
# Kafka has the events; the listener's likes and dislikes were not kept: a retry with the
# same event_ids keeps them (the lake counts each event once).
FEEDBACK_UNAVAILABLE = (
    "the likes and dislikes could not be kept; retry later with the same event_id"
)

INVALID_BATCH = Invalid(
    400, "invalid_batch", "the body must be an object with an 'events' list", whole="events"
)
# The answers of both event routes besides their own.
CAPTURE_ANSWERS = {
    413: "The body is over 4 MB, or the batch over RECSYS_EVENT_BATCH_MAX events.",
    422: "The event (every event of the batch) was rejected; the errors name the fields.",
    429: RATE_LIMITED,
    503: "The event log or the catalog did not answer; retry with the same event_id.",
}


class EventBatch(Body):
    """A batch of events: each valid one is accepted, each other one reported by its index."""

    # Each event is checked by EventSink.validate, so the list itself only has to be one.
    events: SkipValidation[list[Event]]

    @field_validator("events")
    @classmethod
    def _a_list(cls, events):
        if not isinstance(events, list):
            raise PydanticCustomError("not_a_list", "must be a list of events")
        return events


def _check_identity(raw_events: list, batch: bool) -> None:
    """403 for the whole request, before anything reaches Kafka, if any event is for a
    listener the caller may not act for (an event without a user_id is the sink's to
    reject, field by field)."""
    who = caller()
    if who.kind == "anyone" or EVENTS_FOR_ANYONE in who.scopes:
        return
    for index, raw in enumerate(raw_events):
        user_id = raw.get("user_id") if isinstance(raw, dict) else None
        if isinstance(user_id, str) and not who.may_act_for(user_id, EVENTS_FOR_ANYONE):
            field = f"events[{index}].user_id" if batch else "user_id"
            require_acting_for(user_id, EVENTS_FOR_ANYONE, field)
    if who.kind != "listener":  # an admin's or another service's token
        require_scope(EVENTS_FOR_ANYONE)


def _validate_and_publish(raw_events: list, batch: bool):
    _check_identity(raw_events, batch)
    sink = resources().event_sink
    try:
        events, outcomes = sink.validate(raw_events)
    except CatalogUnavailable:
        raise ApiError(
            503, "catalog_unavailable", "the catalog cannot be read to check ids; retry later"
        ) from None
    try:
        sink.publish(events, outcomes)
    except KafkaUnavailable:
        raise ApiError(503, "kafka_unavailable", KAFKA_UNAVAILABLE) from None
    finally:
        for status, count in Counter(o.status for o in outcomes).items():
            metrics.EVENTS.labels(status).inc(count)
    accepted = [e for e, o in zip(events, outcomes, strict=True) if o.status == "accepted"]
    res = resources()
    if any(e["action"] in FEEDBACK_ACTIONS for e in accepted):
        try:
            with res.pool.connection() as conn:
                feedback.record(conn, accepted)
        except psycopg.Error:
            log.exception("likes and dislikes not kept; the events are in Kafka")
            raise ApiError(503, "feedback_unavailable", FEEDBACK_UNAVAILABLE) from None
    stale = sessions.record_accepted(res.sessions, res.pool, accepted)
    return outcomes, stale


@api.post("/logs/event")
@limited("events")
@listener_required
@operation(
    "Capture one listening event (stored in Kafka before 202).",
    body=Event,
    check_body=False,  # checked by the sink, with the catalog, like each event of a batch
    answers={202: ("Accepted and acknowledged by the broker.", EventAccepted), **CAPTURE_ANSWERS},
)
def log_event(body):
    (outcome,), stale = _validate_and_publish([body], batch=False)
    if outcome.status == "rejected":
        raise ApiError(
            422, "invalid_event", "the event was rejected", [e.as_dict() for e in outcome.errors]
        )
    if outcome.status == "failed":
        raise ApiError(
            503,
            "kafka_unavailable",
            KAFKA_UNAVAILABLE,
        )
    answer = {"status": "accepted", "event_id": outcome.event_id}
    if stale is not None:  # None: the session store is down; the event is stored all the same
        answer["queue_stale"] = stale.get(body["user_id"], False)
    return jsonify(answer), 202


@api.post("/logs/events")
@limited("events")
@listener_required
@operation(
    "Capture a batch of up to RECSYS_EVENT_BATCH_MAX (1,000) events; each gets its own outcome.",
    body=EventBatch,
    invalid=INVALID_BATCH,
    answers={202: ("At least one event accepted; see results.", BatchAnswer), **CAPTURE_ANSWERS},
)
def log_events(body: EventBatch):
    raw_events = body.events
    limit = current_app.config["RECSYS"].event_batch_max
    if not raw_events or len(raw_events) > limit:
        raise ApiError(
            422 if not raw_events else 413,
            "invalid_batch",
            f"a batch carries 1 to {limit} events",
            [{"field": "events", "reason": f"must hold 1 to {limit} events"}],
        )
    outcomes, _ = _validate_and_publish(raw_events, batch=True)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("accepted", "rejected", "failed")}
    answer = {**counts, "results": [o.as_dict() for o in outcomes]}
    if counts["accepted"]:
        return jsonify(answer), 202
    if counts["failed"]:  # like every error, it names itself (and keeps the per-event results)
        answer |= {"error": "kafka_unavailable", "message": KAFKA_UNAVAILABLE}
        return jsonify(answer), 503
    answer |= {"error": "invalid_events", "message": "no event of the batch was accepted"}
    return jsonify(answer), 422
