"""EventSink's failure accounting (pure logic): a producer failing every send for twice the
send timeout is rebuilt, and a success in between restarts the count."""

from __future__ import annotations

import dataclasses

import pytest
from kafka.errors import KafkaTimeoutError

from recsys import events as contract
from recsys.settings import Settings
from webapp.services import event_sink
from webapp.services.event_sink import EventOutcome, EventSink, KafkaUnavailable


class Future:
    def __init__(self, ok: bool):
        self.ok = ok

    def get(self, timeout):
        if not self.ok:
            raise KafkaTimeoutError("expired")


class Producer:
    """Acknowledges sends while ``ok`` is true."""

    def __init__(self):
        self.ok = False

    def send(self, topic, key, value):
        return Future(self.ok)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(event_sink.time, "monotonic", clock.monotonic)
    return clock


def publish(sink: EventSink) -> bool:
    event = dict.fromkeys(contract.ALL_FIELDS, "x")
    try:
        sink.publish([event], [EventOutcome(0, "pending", "e")])
        return True
    except KafkaUnavailable:
        return False


def test_a_producer_failing_for_twice_the_send_timeout_is_rebuilt(clock):
    settings = dataclasses.replace(Settings(), kafka_send_timeout_s=4.0)
    producer, rebuilds = Producer(), []
    sink = EventSink(settings, None, lambda: producer, lambda: rebuilds.append(clock.now))

    assert not publish(sink)  # the failing run starts at 1000
    clock.now += 8.0
    assert not publish(sink)
    assert rebuilds == []  # 8 s is not more than twice the 4 s send timeout
    clock.now += 0.5
    assert not publish(sink)
    assert rebuilds == [1008.5]

    producer.ok = True  # a success ends the failing run ...
    assert publish(sink)
    producer.ok = False
    assert not publish(sink)  # ... so a new one starts here
    clock.now += 8.5
    assert not publish(sink)
    assert rebuilds == [1008.5, 1017.0]
