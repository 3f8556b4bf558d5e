"""Live listening traffic from the demo users, and bulk sending of generated history.

Reads a demo world (``recsysctl.demo``). Writes listening events either through the web
app's batch endpoint (``POST /api/v1/logs/events``), so the whole capture path is exercised,
or straight to the Kafka topic (``settings.kafka_topic``). Live events follow the same
listening model as ``demo.generate_history``, stamped with the current time.

Example
-------
>>> report = simulate(load_settings(), generate_world("default"), count=1000, rate=50)
... # doctest: +SKIP
>>> report.accepted == len(report.accepted_event_ids)  # doctest: +SKIP
True
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import requests
from tqdm import tqdm

from recsys import events as contract
from recsys.settings import Settings
from recsysctl import demo
from recsysctl.credentials import service_session

VIAS = ("http", "kafka")
EVENTS_PATH = "/api/v1/logs/events"
# The web app answers these when Kafka or the catalog is briefly away: worth a retry.
RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_ATTEMPTS = 5
BACKOFF_S = 0.5
# At a set rate, a batch never waits longer than this for its events to be due.
MAX_BATCH_WAIT_S = 0.5
KAFKA_MAX_BLOCK_MS = 10_000


class SimulationError(RuntimeError):
    """Events could not be sent at all (wrong address, refused batch, broker gone)."""


@dataclass
class SimulationReport:
    """What one simulation sent and what the receiving side said about it."""

    sent: int
    accepted: int
    rejected: int
    failed: int
    seconds: float
    accepted_event_ids: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Tally:
    """Running counts of one sink: ids the receiver accepted, events rejected or lost."""

    accepted_event_ids: list[str] = field(default_factory=list)
    rejected: int = 0
    failed: int = 0

    def add(self, other: Tally) -> None:
        self.accepted_event_ids += other.accepted_event_ids
        self.rejected += other.rejected
        self.failed += other.failed


class Pacer:
    """Holds a sender to ``rate`` events per second on an absolute schedule.

    Sleeping until each batch is due (rather than a fixed pause after it) absorbs the time the
    sending itself takes, so the average rate holds.
    """

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for as fast as possible)")
        self.rate, self._clock, self._sleep = rate, clock, sleep
        self._start: float | None = None

    def wait_until_due(self, sent: int) -> float:
        """Sleep until event number ``sent`` (0-based) is due; returns the seconds slept."""
        if self.rate is None:
            return 0.0
        if self._start is None:
            self._start = self._clock()
        delay = self._start + sent / self.rate - self._clock()
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay


def batch_size_for(rate: float | None, batch_size: int) -> int:
    """Batch size at ``rate``: small enough that a batch fills within ``MAX_BATCH_WAIT_S``."""
    if rate is None:
        return batch_size
    return max(1, min(batch_size, int(rate * MAX_BATCH_WAIT_S)))


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def live_events(
    world: demo.World,
    users: int | None = None,
    seed: int | None = None,
    clock_ms: Callable[[], int] = _wall_clock_ms,
) -> Iterator[dict]:
    """An endless stream of listening sessions by the first ``users`` users of ``world``.

    Listeners are drawn by how often they listen; each session's songs and outcomes follow
    ``demo.playbacks``. Each event is stamped with ``clock_ms()`` when it is taken from
    the stream, so paced traffic carries its real sending time.
    """
    model = demo.listening_model(world)
    active = len(model.user_ids) if users is None else min(users, len(model.user_ids))
    if active < 1:
        raise ValueError("simulate at least one user")
    activity = model.sessions_per_day[:active] / model.sessions_per_day[:active].sum()
    rng = np.random.default_rng(seed)
    while True:
        user = int(rng.choice(active, p=activity))
        length = int(demo.session_lengths(rng, 1)[0])
        plays = demo.playbacks(model, user, length, rng)
        ids = demo.event_ids(rng, length)
        yield from demo.playback_events(model, user, plays, iter(clock_ms, None), ids)


def read_ingest_response(status: int, body, batch: list[dict]) -> Tally:
    """Counts from the web app's answer to one batch.

    202 and 422 carry one result per event; 4xx otherwise means the batch itself was wrong
    (address, size, format), which no retry fixes, so it raises ``SimulationError``.
    """
    results = body.get("results") if isinstance(body, dict) else None
    if status in (202, 422) and isinstance(results, list):
        tally = Tally()
        for result in results:
            if result.get("status") == "accepted":
                event_id = result.get("event_id") or batch[result["index"]]["event_id"]
                tally.accepted_event_ids.append(event_id)
            elif result.get("status") == "rejected":
                tally.rejected += 1
            else:
                tally.failed += 1
        return tally
    if 400 <= status < 500:
        message = body.get("message") if isinstance(body, dict) else body
        raise SimulationError(f"the web app refused a batch with {status}: {message}")
    return Tally(failed=len(batch))


def _json_or_text(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


class HttpSink:
    """Posts batches to the web app, retrying a batch while the service is briefly away.

    A retried batch keeps its event_ids, so events that did land the first time are
    deduplicated downstream.
    """

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.url = settings.webapp_url + EVENTS_PATH
        self.timeout_s = settings.kafka_send_timeout_s + 10.0
        self.session = session or service_session(settings, "simulator", ["events:write:any"])
        self.tally = Tally()
        self._sleep = sleep

    def send(self, batch: list[dict]) -> None:
        attempt = 0
        while attempt < MAX_ATTEMPTS:
            if attempt:
                self._sleep(BACKOFF_S * 2 ** (attempt - 1))
            attempt += 1
            try:
                response = self.session.post(
                    url=self.url, json={"events": batch}, timeout=self.timeout_s
                )
            except (requests.ConnectionError, requests.Timeout):
                continue
            if response.status_code == 429:  # over the rate limit: wait as told, not a failure
                self._sleep(float(response.headers.get("Retry-After", 1)))
                attempt -= 1
                continue
            if response.status_code not in RETRYABLE_STATUSES:
                body = _json_or_text(response)
                self.tally.add(read_ingest_response(response.status_code, body, batch))
                return
        self.tally.failed += len(batch)

    def close(self) -> Tally:
        self.session.close()
        return self.tally


def _producer(settings: Settings, **overrides):
    """A producer of the log's one configuration (recsys.events.producer_config), with the
    simulator's own waits: it runs unattended and replays history, so nothing bounds it to a
    request's send timeout."""
    from kafka import KafkaProducer  # only the Kafka paths need the client
    from kafka.errors import KafkaError

    config = {
        **contract.producer_config(settings),
        "linger_ms": 5,
        "max_block_ms": KAFKA_MAX_BLOCK_MS,
        "request_timeout_ms": 30_000,
        "delivery_timeout_ms": 120_000,
        "bootstrap_timeout_ms": 30_000,
    }
    try:
        return KafkaProducer(**{**config, **overrides})
    except KafkaError as err:
        raise SimulationError(
            f"no Kafka broker answered at {settings.kafka_bootstrap_servers}: {err}"
        ) from err


class KafkaSink:
    """Sends events straight to the topic; the broker's acknowledgements arrive by callback."""

    def __init__(self, settings: Settings):
        self.topic = settings.kafka_topic
        self.producer = _producer(settings)
        self.tally = Tally()
        self.broker_gone = False
        # Filled by the producer's I/O thread (list.append is atomic, no lock needed).
        self._acked_ids: list[str] = []
        self._errors: list[Exception] = []

    def send(self, batch: list[dict]) -> None:
        from kafka.errors import KafkaError

        for event in batch:
            if self.broker_gone:  # fail fast rather than block max_block_ms per event
                self.tally.failed += 1
                continue
            try:
                future = self.producer.send(
                    self.topic, key=contract.key(event), value=contract.encode(event)
                )
            except KafkaError:
                self.broker_gone = True
                self.tally.failed += 1
                continue
            future.add_callback(lambda _meta, eid=event["event_id"]: self._acked_ids.append(eid))
            future.add_errback(self._errors.append)

    def close(self) -> Tally:
        self.producer.flush()
        self.producer.close()
        self.tally.accepted_event_ids += self._acked_ids
        self.tally.failed += len(self._errors)
        return self.tally


def _open_sink(settings: Settings, via: str):
    if via == "http":
        return HttpSink(settings)
    if via == "kafka":
        return KafkaSink(settings)
    raise ValueError(f"via must be one of {', '.join(VIAS)}, not {via!r}")


def simulate(
    settings: Settings,
    world: demo.World,
    count: int,
    rate: float | None = None,
    users: int | None = None,
    via: str = "http",
    batch_size: int = 500,
    progress: bool = True,
    seed: int | None = None,
) -> SimulationReport:
    """Send ``count`` live listening events by the demo users, stamped with the current time.

    Parameters
    ----------
    count : int
        Events to send.
    rate : float, optional
        Events per second; ``None`` sends as fast as the receiver takes them.
    users : int, optional
        Only the first ``users`` users of the world listen (all when ``None``).
    via : {"http", "kafka"}
        Through the web app's batch endpoint, or straight to the Kafka topic.
    batch_size : int
        Most events per HTTP batch (capped by ``settings.event_batch_max`` and the rate).
    seed : int, optional
        Makes the traffic, event ids included, reproducible; fresh each run when ``None``.

    Returns
    -------
    SimulationReport
        ``accepted_event_ids`` lists exactly the events the receiver acknowledged.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    stream = live_events(world, users, seed)
    size = batch_size_for(rate, min(batch_size, settings.event_batch_max))
    pacer = Pacer(rate)
    sink = _open_sink(settings, via)
    started = time.monotonic()
    sent = 0
    with tqdm(total=count, unit="event", desc=f"simulate via {via}", disable=not progress) as bar:
        try:
            while sent < count:
                size_now = min(size, count - sent)
                # A batch leaves when its last event is due, so count events take count / rate s.
                pacer.wait_until_due(sent + size_now)
                batch = list(islice(stream, size_now))
                sink.send(batch)
                sent += len(batch)
                bar.update(len(batch))
        finally:
            tally = sink.close()
    return SimulationReport(
        sent=sent,
        accepted=len(tally.accepted_event_ids),
        rejected=tally.rejected,
        failed=tally.failed,
        seconds=time.monotonic() - started,
        accepted_event_ids=tally.accepted_event_ids,
    )


def send_history(settings: Settings, events: Iterable[dict], progress: bool = True) -> int:
    """Send pre-generated history events straight to Kafka; returns how many were acknowledged.

    Raises
    ------
    SimulationError
        When any event was not acknowledged, naming the first error: history with holes
        would quietly skew every count and model built on it.
    """
    from kafka.errors import KafkaError

    producer = _producer(settings, batch_size=512 * 1024, max_block_ms=60_000)
    # Callbacks run on the producer's I/O thread, or on this one when the send already
    # finished, hence the lock.
    acked, errors, lock = [0], [], threading.Lock()

    def _acked(_meta) -> None:
        with lock:
            acked[0] += 1

    total = len(events) if hasattr(events, "__len__") else None
    sent = 0
    with tqdm(total=total, unit="event", desc="send history", disable=not progress) as bar:
        try:
            for chunk in chunked(events, 5_000):
                for event in chunk:
                    future = producer.send(
                        settings.kafka_topic, key=contract.key(event), value=contract.encode(event)
                    )
                    future.add_callback(_acked).add_errback(errors.append)
                sent += len(chunk)
                bar.update(len(chunk))
            producer.flush()
        except KafkaError as err:
            raise SimulationError(
                f"Kafka stopped taking history after {sent} events: {err}"
            ) from err
        finally:
            producer.close()
    if errors or acked[0] != sent:
        first = errors[0] if errors else "no acknowledgement"
        raise SimulationError(
            f"{sent - acked[0]} of {sent} history events were not acknowledged by Kafka: {first}"
        )
    return acked[0]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options (--count, --rate, --users, --via, --size, --seed)."""
    parser.add_argument(
        "--count", type=_positive_int, default=1_000, help="events to send (default: 1000)"
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=None,
        help="events per second (default: as fast as the receiver takes them)",
    )
    parser.add_argument(
        "--users",
        type=_positive_int,
        default=None,
        help="only the first N demo users listen (default: all of them)",
    )
    parser.add_argument(
        "--via",
        choices=VIAS,
        default="http",
        help="http: through the web app's POST /api/v1/logs/events, validating every event; "
        "kafka: straight to the topic (default: http)",
    )
    parser.add_argument(
        "--size",
        choices=tuple(demo.SIZES),
        default="default",
        help="demo world size; must be the one loaded into the catalog (default: default)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=demo.DEFAULT_SEED,
        help="seed of the demo world; must be the one loaded into the catalog "
        f"(default: {demo.DEFAULT_SEED})",
    )
