"""Three Kafka brokers, one of them stopped mid-ingestion and restarted: every event the web
app acknowledged (202) is in the topic exactly once, and while the broker was away clients
heard 202 or 503, each within a bounded time, never a hang.

The traffic is real: client threads POST single events to the web app under gunicorn,
whose producer (acks=all, idempotent) knows all three brokers; the topic has 3 replicas
and needs 2 in sync. The broker stopped is the leader of partition 0.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from recsys.settings import load_settings
from recsysctl.stack import kafka_cluster
from tests.auth_helpers import service_headers
from tests.kafka_helpers import completed_playback, end_offsets, records_since
from tests.reliability.http_load import wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

CLIENTS = 6
WARM_EVENTS = 300  # accepted before the broker goes
DOWN_S = 15  # longer than the cluster's 6 s fencing of a crashed broker
AFTER_S = 3  # traffic after the restarted broker is back in sync


@dataclass
class Outcome:
    event_id: str
    phase: str  # before | down | after
    status: int | None  # None: the client gave up (timeout) or could not connect
    seconds: float
    error: str = ""


@dataclass
class Traffic:
    """CLIENTS threads POSTing one event at a time until stopped; each request is bounded
    by ``timeout_s`` on the client side."""

    url: str
    world: object
    timeout_s: float
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for i in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 5)

    def accepted(self, phase: str | None = None) -> int:
        return sum(o.status == 202 and phase in (None, o.phase) for o in list(self.outcomes))

    def _event(self, n: int) -> dict:
        users, songs = self.world.users, self.world.songs
        return completed_playback(users[n % len(users)]["id"], songs[n % len(songs)])

    def _client(self, client: int) -> None:
        session = requests.Session()
        session.headers.update(service_headers(load_settings(), name="reliability"))
        n = client
        while not self._stop.is_set():
            event, phase = self._event(n), self.phase
            n += CLIENTS
            started = time.monotonic()
            try:
                response = session.post(self.url, json=event, timeout=self.timeout_s)
                outcome = Outcome(event["event_id"], phase, response.status_code, 0.0)
                if response.status_code == 503:
                    time.sleep(0.2)  # a client backs off on 503
            except requests.RequestException as err:
                outcome = Outcome(event["event_id"], phase, None, 0.0, type(err).__name__)
            outcome.seconds = time.monotonic() - started
            self.outcomes.append(outcome)
        session.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_acknowledged_events_survive_a_broker_stopped_mid_ingestion(cluster_webapp, world, sig):
    settings = cluster_webapp
    kafka_cluster.wait_in_sync(settings, 120)  # the previous case's broker is back
    start = end_offsets(settings)
    victim = kafka_cluster.partitions(settings)[0]["leader_id"]
    traffic = Traffic(
        f"{settings.webapp_url}/api/v1/logs/event", world, settings.kafka_send_timeout_s + 10
    )
    traffic.start()
    began = time.monotonic()
    try:
        wait_for(lambda: traffic.accepted() >= WARM_EVENTS, 60, f"{WARM_EVENTS} events accepted")
        traffic.phase = "down"
        stopped_at = time.monotonic()
        kafka_cluster.stop_node(settings, victim, sig)
        stop_took = time.monotonic() - stopped_at
        time.sleep(DOWN_S)
        traffic.phase = "after"
        kafka_cluster.start_node(settings, victim)
        kafka_cluster.wait_in_sync(settings, 120)
        back_after = time.monotonic() - stopped_at
        time.sleep(AFTER_S)
    finally:
        traffic.stop()
        kafka_cluster.start_node(settings, victim)  # a no-op unless the test failed above

    outcomes = list(traffic.outcomes)
    records = records_since(settings, start)
    in_kafka = Counter(r["event_id"] for r in records)
    accepted = {o.event_id for o in outcomes if o.status == 202}
    rejected = {o.event_id for o in outcomes if o.status == 503}
    gave_up = [o for o in outcomes if o.status is None]
    other = Counter(o.status for o in outcomes if o.status not in (202, 503, None))
    missing = [e for e in accepted if in_kafka[e] == 0]
    duplicates = {e: c for e, c in in_kafka.items() if c > 1}
    by_phase = {
        phase: Counter(o.status for o in outcomes if o.phase == phase)
        for phase in ("before", "down", "after")
    }
    slowest = max(o.seconds for o in outcomes)
    print(
        f"\n{signal.Signals(sig).name} broker {victim} (leader of partition 0) after "
        f"{WARM_EVENTS}+ accepted events; it stopped in {stop_took:.1f} s, was down "
        f"{DOWN_S} s, back in sync {back_after:.1f} s after the stop; "
        f"{time.monotonic() - began:.0f} s of traffic from {CLIENTS} clients\n"
        f"  requests {len(outcomes)}: accepted 202 {len(accepted)}, rejected 503 "
        f"{len(rejected)}, client timeouts/errors {len(gave_up)}, other {dict(other)}\n"
        f"  per phase (status: count): { ({p: dict(c) for p, c in by_phase.items()}) }\n"
        f"  slowest answer {slowest:.2f} s (client timeout {traffic.timeout_s:.0f} s)\n"
        f"  in Kafka: {len(records)} records, {len(in_kafka)} event ids; accepted found "
        f"{len(accepted) - len(missing)}/{len(accepted)}, missing {len(missing)}, "
        f"duplicates {len(duplicates)}; 503'd but stored anyway "
        f"{sum(in_kafka[e] > 0 for e in rejected)}"
    )
    assert not gave_up, f"requests that hung or failed: {gave_up[:5]}"
    assert not other, f"answers other than 202/503: {other}"
    assert by_phase["down"][202] > 0, "the cluster took no event with one broker down"
    assert by_phase["after"][202] > 0, "no event was accepted after the restart"
    assert not missing, f"{len(missing)} acknowledged events are not in Kafka: {missing[:5]}"
    assert not {e: c for e, c in duplicates.items() if e in accepted}, (
        f"acknowledged events stored more than once: {list(duplicates.items())[:5]}"
    )
    assert set(in_kafka) <= accepted | rejected, "Kafka holds events nobody sent"
