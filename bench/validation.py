"""Checking a full batch of events: the contract's cost against parsing the same batch.

``EventSink.validate`` on 1,000 events (the pydantic contract, then catalog ids already known,
so nothing is read) against the floor every request pays anyway: ``orjson`` parsing the same
batch from its JSON bytes. CPU time, best of ``--rounds``, both measured in this run.

    python -m bench validation [--rounds 30]
"""

from __future__ import annotations

import argparse
import time

import orjson

from recsys.settings import Settings
from webapp.services.event_sink import EventSink

BATCH = 1_000


def full_batch(now_ms: int) -> list[dict]:
    actions = ("listen", "skip", "complete")
    return [
        {
            "user_id": f"user-{i % 300}",
            "track_id": f"song-{i % 5000}",
            "timestamp": now_ms - i,
            "action": actions[i % 3],
            "duration": 40,
            "total_duration": 200,
            "source": "simulation",
        }
        for i in range(BATCH)
    ]


def best_cpu_seconds(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _never_read():
    raise AssertionError("the catalog was read: the ids should be known")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    sink = EventSink(Settings(), _never_read, None)
    batch = full_batch(int(time.time() * 1000))
    now = time.monotonic()
    sink.known.remember("user", {e["user_id"] for e in batch}, now)
    sink.known.remember("song", {e["track_id"] for e in batch}, now)
    events, outcomes = sink.validate(batch)
    assert None not in events and all(o.status == "pending" for o in outcomes)

    body = orjson.dumps(batch)
    parse = best_cpu_seconds(lambda: orjson.loads(body), args.rounds)
    check = best_cpu_seconds(lambda: sink.validate(batch), args.rounds)
    print(f"parse {BATCH:,} events (orjson, the floor): {parse * 1000:7.2f} ms CPU")
    print(f"check {BATCH:,} events (EventSink.validate): {check * 1000:7.2f} ms CPU")
    print(f"check / parse: {check / parse:.1f}x   (budget: well under 10 ms a full batch)")


if __name__ == "__main__":
    main()
