"""Accepting listening events: validate against the contract and the catalog, then publish
to Kafka and wait for the broker's acknowledgement (acks=all) before reporting success.

Reads catalog.users and catalog.songs (to reject unknown ids); writes the Kafka topic.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from kafka.errors import KafkaError

from recsys import events as contract
from recsys.events import FieldError
from recsys.settings import Settings
from webapp import metrics


class KafkaUnavailable(RuntimeError):
    """No broker acknowledged the events in time; nothing was reported as stored."""


class CatalogUnavailable(RuntimeError):
    """The catalog could not be read, so events cannot be checked."""


@dataclass
class EventOutcome:
    index: int
    status: str  # accepted | rejected | failed
    event_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict:
        body = {"index": self.index, "status": self.status}
        if self.event_id:
            body["event_id"] = self.event_id
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class KnownIds:
    """Remembers ids found in the catalog for a while, so hot users and songs cost no query.

    Only presence is cached: an id not found is looked up again on its next appearance.
    """

    def __init__(self, ttl_s: float = 300.0, max_size: int = 200_000):
        self.ttl_s = ttl_s
        self.max_size = max_size
        self._expiry: dict[tuple[str, str], float] = {}

    def missing(self, kind: str, ids: set[str], now: float) -> set[str]:
        return {i for i in ids if self._expiry.get((kind, i), 0.0) < now}

    def remember(self, kind: str, ids: set[str], now: float) -> None:
        if len(self._expiry) + len(ids) > self.max_size:
            self._expiry.clear()
        until = now + self.ttl_s
        for i in ids:
            self._expiry[(kind, i)] = until


def find_existing(pool, user_ids: set[str], song_ids: set[str]) -> tuple[set[str], set[str]]:
    """Which of the given ids exist in the catalog, in one round trip."""
    try:
        with pool.connection() as conn:
            users, songs = conn.execute(
                "select"
                " (select coalesce(array_agg(id), '{}') from catalog.users where id = any(%s)),"
                " (select coalesce(array_agg(id), '{}') from catalog.songs where id = any(%s))",
                (list(user_ids), list(song_ids)),
            ).fetchone()
    except Exception as err:  # psycopg and pool errors alike mean the catalog is unreachable
        raise CatalogUnavailable(str(err)) from err
    return set(users), set(songs)


class EventSink:
    def __init__(self, settings: Settings, pool_getter, producer_getter, producer_reset=None):
        self.settings = settings
        self._pool = pool_getter
        self._producer = producer_getter
        self._producer_reset = producer_reset
        self._failing_since: float | None = None  # start of a run of wholly failed sends
        self.known = KnownIds()
        self._send_lock = threading.Lock()

    def validate(self, raw_events: list) -> tuple[list[dict | None], list[EventOutcome]]:
        """Contract checks, then catalog checks for the events that passed them."""
        now_ms = int(time.time() * 1000)
        checked = contract.validate_events(raw_events, now_ms, self.settings.event_max_future_s)
        valid = [event for event, _ in checked if event is not None]
        self._check_catalog(valid, checked)
        outcomes, events = [], []
        for i, (event, errors) in enumerate(checked):
            if errors:
                outcomes.append(EventOutcome(i, "rejected", errors=errors))
                events.append(None)
            else:
                outcomes.append(EventOutcome(i, "pending", event_id=event["event_id"]))
                events.append(event)
        return events, outcomes

    def _check_catalog(self, valid: list[dict], checked: list) -> None:
        if not valid:
            return
        now = time.monotonic()
        users = self.known.missing("user", {e["user_id"] for e in valid}, now)
        songs = self.known.missing("song", {e["track_id"] for e in valid}, now)
        if users or songs:
            found_users, found_songs = find_existing(self._pool(), users, songs)
            self.known.remember("user", found_users, now)
            self.known.remember("song", found_songs, now)
            unknown_users, unknown_songs = users - found_users, songs - found_songs
        else:
            unknown_users = unknown_songs = set()
        if not (unknown_users or unknown_songs):
            return
        for i, (event, errors) in enumerate(checked):
            if event is None:
                continue
            if event["user_id"] in unknown_users:
                errors.append(FieldError("user_id", "unknown user"))
            if event["track_id"] in unknown_songs:
                errors.append(FieldError("track_id", "unknown track"))
            if errors:
                checked[i] = (None, errors)

    def publish(self, events: list[dict | None], outcomes: list[EventOutcome]) -> None:
        """Send the valid events and wait for every acknowledgement, within the timeout."""
        to_send = [(o, e) for o, e in zip(outcomes, events, strict=True) if e is not None]
        if not to_send:
            return
        try:
            producer = self._producer()
        except KafkaError as err:
            for outcome, _ in to_send:
                outcome.status = "failed"
            metrics.KAFKA_ERRORS.labels("unreachable").inc()
            raise KafkaUnavailable(f"no Kafka broker reachable: {err}") from err
        topic = self.settings.kafka_topic
        futures = []
        # One request thread appends at a time: threads interleaving thousands of appends
        # on the producer's locks spend more on contention than on sending.
        with self._send_lock:
            for outcome, event in to_send:
                try:
                    value = contract.encode(event)
                    futures.append(
                        (outcome, producer.send(topic, key=contract.key(event), value=value))
                    )
                except KafkaError:
                    outcome.status = "failed"
        deadline = time.monotonic() + self.settings.kafka_send_timeout_s + 1.0
        for outcome, future in futures:
            try:
                future.get(timeout=max(deadline - time.monotonic(), 0.01))
                outcome.status = "accepted"
            except KafkaError:
                outcome.status = "failed"
        failed = sum(o.status == "failed" for o, _ in to_send)
        if failed:
            metrics.KAFKA_ERRORS.labels("send_failed").inc(failed)
        if failed == len(to_send):
            self._note_failure()
            raise KafkaUnavailable("Kafka did not acknowledge the events in time")
        self._failing_since = None

    def _note_failure(self) -> None:
        """A producer that has failed every send for twice the send timeout is rebuilt.

        When kafka-python 3's idempotent producer expires a batch it had already sent (a
        broker crashed under it), it drops its producer id and never asks for another, so
        every later send fails although the cluster is whole again. A fresh producer gets a
        new id. During a real outage the rebuilt producer fails like the old one, at the
        cost of a reconnection every few seconds.
        """
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif (
            self._producer_reset
            and now - self._failing_since > 2 * self.settings.kafka_send_timeout_s
        ):
            self._producer_reset()
            metrics.KAFKA_ERRORS.labels("producer_rebuilt").inc()
            self._failing_since = None
