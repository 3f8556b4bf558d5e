"""Event ingestion: events/s through the HTTP API (batch and single, concurrent clients)
against a bare kafka-python producer with the API's own settings, the limit of this path.

Runs on a throwaway stack (PostgreSQL, Kafka, Redis, gunicorn) on free ports, so it never
writes into the ``make up`` stack. Single events are also sent to a bare Flask app under the
same gunicorn that only parses and publishes each one (bench/bare_event_app.py): the floor of
one event per request on this machine. Targets on a 2-core machine: batch >= 20,000 events/s,
single >= 1,500 events/s, batch >= 0.5 x the bare producer.

The API runs in token mode (RECSYS_AUTH_MODE=token), as in production: every request carries
the benchmark's service token (scope events:write:any, signed with the stack's
RECSYS_AUTH_SECRET). Each round also sends the same batches and single events to the API in
open mode (RECSYS_AUTH_MODE=open, no token), the web app restarted for each mode, the modes
in the other order every other round (whichever runs second follows a warmer broker); the
cost of token verification is 1 - (token / open) from the rounds' totals and the median of
the rounds' own costs (target: at most 5%).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from kafka import KafkaProducer

from bench.loadgen import LoadResult, in_processes, post_all
from bench.stack import bare_http_app, restart_webapp, service_headers, throwaway_stack
from recsys import events
from recsysctl.stack import kafka, redis, webapp

TARGETS = {"batch": 20_000, "single": 1_500}
MODES = ("token", "open")


def sample_events(world, count: int) -> list[dict]:
    """Valid events of the world's users and songs, stamped now."""
    now = int(time.time() * 1000)
    users, songs = world.users, world.songs
    out = []
    for i in range(count):
        song = songs[(i * 7919) % len(songs)]
        out.append(
            {
                "user_id": users[i % len(users)]["id"],
                "track_id": song["id"],
                "timestamp": now,
                "action": ("listen", "skip", "complete")[i % 3],
                "duration": min(40, song["duration_s"]),
                "total_duration": song["duration_s"],
                "source": "simulation",
            }
        )
    return out


def _produce(settings, prepared: list[dict], start_at: float, out) -> None:
    producer = KafkaProducer(**events.producer_config(settings))  # the API's producer
    while time.time() < start_at:
        time.sleep(0.001)
    futures = [
        producer.send(settings.kafka_topic, key=events.key(e), value=events.encode(e))
        for e in prepared
    ]
    producer.flush()
    out.put((len(futures), sum(1 for f in futures if f.exception is not None), time.time()))
    producer.close()


def bare_producers(settings, sample: list[dict], processes: int) -> LoadResult:
    """Producers with the API's own settings, one per process as gunicorn has one per worker,
    sending pre-validated events straight to Kafka: what the HTTP path could at most reach."""
    now_ms = int(time.time() * 1000)
    prepared = [events.validate_event(e, now_ms)[0] for e in sample]
    start_at = time.time() + 2.0
    results = in_processes(
        _produce, [(settings, prepared[i::processes], start_at) for i in range(processes)]
    )
    sent, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    return LoadResult(sent, sent - errors, errors, max(r[2] for r in results) - start_at)


def http_batches(settings, sample, batch_size, processes, threads, headers=None) -> LoadResult:
    bodies = [
        json.dumps({"events": sample[i : i + batch_size]}).encode()
        for i in range(0, len(sample), batch_size)
    ]
    return post_all(
        settings.webapp_host,
        settings.webapp_port,
        "/api/v1/logs/events",
        bodies,
        batch_size,
        processes,
        threads,
        headers,
    )


def http_singles(settings, sample, processes, threads, port=None, headers=None) -> LoadResult:
    bodies = [json.dumps(e).encode() for e in sample]
    return post_all(
        settings.webapp_host,
        port or settings.webapp_port,
        "/api/v1/logs/event",
        bodies,
        1,
        processes,
        threads,
        headers,
    )


def api_rounds(settings, sample, singles, clients, headers, modes=MODES) -> dict[str, tuple]:
    """Batches and single events through the API in each of ``modes`` in turn, the web app
    restarted in the mode first: ``{mode: (batch, single)}``. Open mode's clients send no
    token."""
    processes = 4
    measured = {}
    for mode in modes:
        restart_webapp(settings, RECSYS_AUTH_MODE=mode)
        sent = headers if mode == "token" else None
        batch_threads, single_threads = max(clients // 8, 1), max(clients // processes, 1)
        measured[mode] = (
            http_batches(settings, sample, 1000, processes, batch_threads, sent),
            http_singles(settings, singles, processes, single_threads, headers=sent),
        )
    return measured


def token_cost(rounds: list[dict[str, tuple]]) -> None:
    """The cost of token verification for batches and for single events: each round's
    events/s in token and open mode, and 1 - token / open from the totals and as the median
    of the rounds' own."""
    for i, path in enumerate(("batch of 1000", "single event")):
        token = [r["token"][i].events_per_second for r in rounds]
        open_ = [r["open"][i].events_per_second for r in rounds]
        by_round = " ".join(f"{a:,.0f}/{b:,.0f}" for a, b in zip(token, open_, strict=True))
        errors = sum(r[mode][i].errors for r in rounds for mode in MODES)
        costs = sorted(1 - a / b for a, b in zip(token, open_, strict=True))
        middle = len(costs) // 2
        median_cost = costs[middle] if len(costs) % 2 else (costs[middle - 1] + costs[middle]) / 2
        print(
            f"HTTP {path}, token/open mode events/s by round: {by_round};"
            f" mean {sum(token) / len(token):,.0f}/{sum(open_) / len(open_):,.0f};"
            f" token verification costs {1 - sum(token) / sum(open_):+.1%} of throughput"
            f" (median of the rounds {median_cost:+.1%})"
            + (f" ({errors} errors)" if errors else ""),
            flush=True,
        )


def median(results: tuple[LoadResult, ...]) -> LoadResult:
    return sorted(results, key=lambda r: r.events_per_second)[len(results) // 2]


def report(rows: list[tuple[str, LoadResult, float | None]], baseline: LoadResult) -> None:
    print(
        f"\n{'path':34} {'events':>9} {'errors':>6} {'seconds':>8} {'events/s':>10} "
        f"{'x bare':>7}  target"
    )
    for name, result, target in rows:
        ratio = result.events_per_second / baseline.events_per_second
        verdict = ""
        if target:
            verdict = f"{'meets' if result.events_per_second >= target else 'MISSES'} {target:,}/s"
        print(
            f"{name:34} {result.events:9,} {result.errors:6} {result.seconds:8.2f} "
            f"{result.events_per_second:10,.0f} {ratio:7.2f}  {verdict}"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per batch run")
    parser.add_argument("--singles", type=int, default=30_000, help="events sent one by one")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds (even: each mode first as often); medians"
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    print("starting a throwaway stack (PostgreSQL, Kafka, Redis, gunicorn) ...", flush=True)
    token_mode = {"RECSYS_AUTH_MODE": "token"}  # production's, whatever the shell says
    stack = throwaway_stack("small", kafka, redis, webapp, environment=token_mode)
    with stack as (settings, world):
        sample = sample_events(world, args.events)
        headers = service_headers(settings, ["events:write:any"])
        print(
            f"gunicorn: {settings.webapp_workers} workers x {settings.webapp_threads} threads; "
            f"{os.cpu_count()} cores; the API in token mode (a service token on every request)"
            " and in open mode",
            flush=True,
        )

        workers = settings.webapp_workers
        processes = 4
        singles = sample[: args.singles]
        single_threads = max(args.clients // processes, 1)
        # Rounds interleave the paths so a noisy moment hits them alike; medians are shown.
        rounds = []
        with bare_http_app(settings, "bench.bare_event_app:app") as bare_port:
            for n in range(args.rounds):
                one = bare_producers(settings, sample, 1)
                limit = bare_producers(settings, sample, workers)
                bare = http_singles(settings, singles, processes, single_threads, bare_port)
                order = MODES if n % 2 == 0 else MODES[::-1]
                api = api_rounds(settings, sample, singles, args.clients, headers, order)
                rounds.append((one, limit, bare, api))
        one_producer, baseline, bare_single = (
            median(path) for path in zip(*(r[:3] for r in rounds), strict=True)
        )
        modes = [r[3] for r in rounds]
        batch, single = (median(tuple(m["token"][i] for m in modes)) for i in (0, 1))
        open_batch, open_single = (median(tuple(m["open"][i] for m in modes)) for i in (0, 1))
        batch_clients = processes * max(args.clients // 8, 1)
        report(
            [
                ("bare producer, 1 process", one_producer, None),
                (f"bare producers, {workers} processes (limit)", baseline, None),
                (f"HTTP batch of 1000, {batch_clients} clients", batch, TARGETS["batch"]),
                ("  the same, open mode", open_batch, None),
                (f"bare HTTP single event, {args.clients} clients", bare_single, None),
                (f"HTTP single event, {args.clients} clients", single, TARGETS["single"]),
                ("  the same, open mode", open_single, None),
            ],
            baseline,
        )
        ratio = batch.events_per_second / baseline.events_per_second
        print(f"\nmedians of {args.rounds} rounds; HTTP rows in token mode unless said")
        print(f"batch / bare producers at the same parallelism = {ratio:.2f} (target >= 0.50)")
        print(
            "single events / the bare HTTP app's (bench/bare_event_app.py) = "
            f"{single.events_per_second / bare_single.events_per_second:.2f}"
        )
        token_cost(modes)
