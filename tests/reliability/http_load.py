"""Client threads against the web app for the reliability tests: each thread repeats one
kind of request (home or next-song recommendations, single events) and records every
answer with its timing, status and what the checks read from its body."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from recsys.settings import load_settings
from tests.auth_helpers import service_headers
from tests.kafka_helpers import completed_playback

CLIENT_TIMEOUT_S = 15


@dataclass
class Answer:
    kind: str
    started: float  # time.monotonic() when the request was sent
    seconds: float
    status: int | None  # None: no answer within the client timeout, or no connection
    body: dict = field(default_factory=dict)
    error: str = ""

    @property
    def ended(self) -> float:
        return self.started + self.seconds

    def within(self, start: float, end: float) -> bool:
        return start <= self.started and self.ended <= end


@dataclass
class Load:
    """Client threads, each repeating one kind of request until stopped. ``clients`` maps a
    kind to ``(threads, request)``; ``request(session, n)`` sends the n-th request of a
    thread, bounded by CLIENT_TIMEOUT_S."""

    clients: dict[str, tuple[int, Callable[[requests.Session, int], requests.Response]]]
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for kind, (count, request) in self.clients.items():
            for i in range(count):
                thread = threading.Thread(target=self._client, args=(kind, request, i), daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_S + 5)

    def of(self, kind: str) -> list[Answer]:
        return [a for a in list(self.answers) if a.kind == kind]

    def _client(self, kind: str, request, thread: int) -> None:
        session = requests.Session()
        session.headers.update(service_headers(load_settings(), name="reliability"))
        n = thread * 1_000_003  # threads walk the same lists from far apart
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = request(session, n)
                body = response.json() if response.content else {}
                answer = Answer(kind, started, 0.0, response.status_code, _summary(body))
            except (requests.RequestException, ValueError) as err:
                answer = Answer(kind, started, 0.0, None, error=type(err).__name__)
            answer.seconds = time.monotonic() - started
            self.answers.append(answer)
            n += 1
        session.close()


def _summary(body: dict) -> dict:
    """What the checks read from an answer (the item lists themselves are not kept)."""
    keep = {k: body[k] for k in ("mode", "degraded", "model_version", "event_id") if k in body}
    if "items" in body:
        keep["items"] = len(body["items"])
    return keep


def home_requests(url: str, users: list[str]):
    return lambda s, n: s.get(
        f"{url}/api/v1/recs/{users[n % len(users)]}", timeout=CLIENT_TIMEOUT_S
    )


def next_song_requests(url: str, users: list[str], songs: list[str]):
    def request(s, n):
        user, song = users[n % len(users)], songs[(n * 7) % len(songs)]
        return s.get(f"{url}/api/v1/recs/{user}/{song}", timeout=CLIENT_TIMEOUT_S)

    return request


def event_posts(url: str, users: list[str], songs: list[dict]):
    def request(s, n):
        event = completed_playback(users[n % len(users)], songs[n % len(songs)])
        return s.post(f"{url}/api/v1/logs/event", json=event, timeout=CLIENT_TIMEOUT_S)

    return request


def failures(answers: list[Answer], ok: int) -> Counter:
    """Answers other than ``ok``, by status (None: hung or failed on the client side)."""
    return Counter(a.status if a.status is not None else a.error for a in answers if a.status != ok)


def modes(answers: list[Answer]) -> dict:
    """How many answers of each (kind, mode)."""
    return dict(Counter((a.kind, a.body.get("mode")) for a in answers))


def wait_for(condition, timeout_s: float, what: str, every_s: float = 0.2):
    """Poll ``condition()`` until it returns something truthy, and return that; fail naming
    ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s"
        time.sleep(every_s)
    return result
