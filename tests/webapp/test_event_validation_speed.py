"""The event path's budget for checks: a full batch of 1,000 events through
``EventSink.validate`` (the contract, then catalog ids already known) must cost well under
10 ms; it took 4.5 to 5 ms of CPU on a 2-core machine running other test suites (the
hand-written checks the pydantic model replaced: about 6 ms). Measured as CPU time, best of
30, and held to the budget itself: under a neighbour's load the best round still swung to
8 ms, so a tighter bound would fail on the machine, not on the code. Pure: the catalog ids
are remembered beforehand, nothing is read."""

from __future__ import annotations

import time

import pytest

from recsys.settings import Settings
from webapp.services.event_sink import EventSink

BATCH = 1_000
BUDGET_S = 0.010


def full_batch(now_ms: int) -> list[dict]:
    return [
        {
            "user_id": f"user-{i % 300}",
            "track_id": f"song-{i % 5000}",
            "timestamp": now_ms - i,
            "action": ("listen", "skip", "complete")[i % 3],
            "duration": 40,
            "total_duration": 200,
            "source": "simulation",
        }
        for i in range(BATCH)
    ]


def best_cpu_seconds(fn, rounds: int = 30) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def test_checking_a_full_batch_costs_well_under_10_ms():
    sink = EventSink(Settings(), lambda: pytest.fail("the catalog was read"), None)
    batch = full_batch(int(time.time() * 1000))
    now = time.monotonic()
    sink.known.remember("user", {e["user_id"] for e in batch}, now)
    sink.known.remember("song", {e["track_id"] for e in batch}, now)
    events, outcomes = sink.validate(batch)
    assert all(o.status == "pending" for o in outcomes) and None not in events

    seconds = best_cpu_seconds(lambda: sink.validate(batch))
    print(f"\nEventSink.validate, {BATCH:,} events: {seconds * 1000:.2f} ms CPU (best of 30)")
    assert seconds < BUDGET_S, f"{seconds * 1000:.2f} ms"
