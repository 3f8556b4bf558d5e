"""Similar songs: GET /api/v1/songs/<id>/similar at 4 and 32 concurrent clients, beside the
bare pgvector queries it needs.

The stack and model are the serving benchmark's (bench/serving.py): a throwaway stack with
the demo world (large by default), the project's ALS (rank 64) trained on its recent
listening and served from pgvector, clustered synthetic lyrics vectors with their HNSW
index, the web app in token mode. The similar_songs DAG's task computes every song's list
ahead first (recsys.model_registry.similar_lists; its time and size are printed). Each
round is preceded by its floor: the song's nearest items by its ALS vector and nearest
lyrics by its lyrics vector, straight to PostgreSQL from as many connections. Then the API
three times. Cold: the web app restarted (nothing kept: no similar songs, no song details,
as after a deployment), then every request for a song no request asked for since, so each
worker reads the song's stored list (the round says how many requests it made for how many
songs, and a round that came near running out of new songs is not counted). Cold,
searching: the same with the stored lists set aside, as between a new model going live and
the DAG's next run: each worker searches (printed, not the target's). Warm: 500 songs asked
again and again, each worker having kept their lists before the round
(webapp.services.similar_read keeps them). The endpoint needs no token; the clients send
none. Issue 21's target: the endpoint within 3x the bare queries at the same concurrency
(req/s at least a third of the floor's), cold and warm.

    python -m bench similar [--size large] [--days 30] [--seconds 30]
"""

from __future__ import annotations

import argparse
import threading
import time
from urllib.parse import urlparse

import numpy as np

from bench import loadgen
from bench.serving import (
    CLIENTS,
    ITEMS_SQL,
    LYRICS_SQL,
    PAGE,
    TOKEN_MODE,
    _BareQueries,
    report,
    serve_model,
)
from bench.stack import restart_webapp, throwaway_stack
from recsys import db
from recsys.model_registry import similar_lists
from recsys.model_registry.vectors import vector_literal
from recsysctl.stack import kafka, redis, webapp

# Issue 21: the similar-songs endpoint within 3x the bare pgvector query.
TARGET = 1 / 3


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)

    stack = throwaway_stack(args.size, kafka, redis, webapp, environment=TOKEN_MODE)
    with stack as (settings, world):
        _, _, song_ids, item_f, lyrics = serve_model(settings, world, args.days)
        started = time.perf_counter()
        computed = similar_lists.refresh(settings)
        took = time.perf_counter() - started
        with db.connect(settings) as conn:
            (size,) = conn.execute(
                "select pg_total_relation_size('model.similar_lists')"
            ).fetchone()
        print(
            f"similar lists computed ahead: {computed.songs:,} songs in {took:.1f} s"
            f" ({computed.status}), {size / 2**20:.0f} MB"
        )
        rng = np.random.default_rng(0)
        order = rng.permutation(len(song_ids))
        warm_songs, cold_songs = order[:500], order[500:]
        lyrics_row = {song["id"]: i for i, song in enumerate(world.songs)}

        def path(s):
            return f"/api/v1/songs/{song_ids[s]}/similar?limit={PAGE}"

        floor_queries = [
            [
                (ITEMS_SQL, vector_literal(item_f[s])),
                (LYRICS_SQL, vector_literal(lyrics[lyrics_row[song_ids[s]]])),
            ]
            for s in order[:2000]
        ]
        url = urlparse(settings.webapp_url)
        print(
            f"\n{len(song_ids):,} songs with ALS vectors; {' and '.join(map(str, CLIENTS))}"
            f" clients, {args.seconds:.0f} s each, gunicorn"
            f" {settings.webapp_workers}x{settings.webapp_threads} threads\n"
        )
        bare = _BareQueries(settings.postgres_dsn, settings.hnsw_ef_search)
        ratios: dict[str, list[float]] = {"cold": [], "warm": []}
        warm = [path(s) for s in warm_songs]
        for clients in CLIENTS:
            floor = loadgen.closed_loop(bare, floor_queries, 2, clients // 2, args.seconds)
            report(f"similar songs, {clients} clients: bare pgvector", floor, None)
            # a fresh web app, and every song but the warm ones in a new order: no request
            # of the round finds a list kept
            for searching in (False, True):
                _set_aside(settings, computed.run_id, searching)
                restart_webapp(settings)
                cold = [path(s) for s in rng.permutation(cold_songs)]
                served = loadgen.get_for(url.hostname, url.port, cold, clients, args.seconds)
                label = "cold, searching" if searching else "cold"
                report(f"similar songs, {clients} clients: API, {label}", served, floor)
                asked = len(served.latencies_ms) + served.errors
                print(f"  ({asked:,} requests for {len(cold):,} songs never asked before)",
                      flush=True)  # fmt: skip
                if asked >= 0.9 * len(cold):  # each client's share had songs left (margin
                    # for clients running faster than others)
                    print("  (the cold round ran out of new songs: not counted)", flush=True)
                elif not searching:
                    ratios["cold"].append(served.requests_per_second / floor.requests_per_second)
            _set_aside(settings, computed.run_id, False)
            _compute_lists(url.hostname, url.port, warm)
            kept = loadgen.get_for(url.hostname, url.port, warm, clients, args.seconds)
            report(f"similar songs, {clients} clients: API, warm", kept, floor)
            ratios["warm"].append(kept.requests_per_second / floor.requests_per_second)
        counted = ratios["cold"] + ratios["warm"]
        met = len(counted) == 2 * len(CLIENTS) and min(counted) >= TARGET
        print(
            f"\ntarget: the API's req/s at least {TARGET:.2f}x the bare queries' (within 3x)"
            f" at each concurrency, cold and warm: {'met' if met else 'NOT met'}"
            f" (cold {', '.join(f'{r:.2f}x' for r in ratios['cold'])};"
            f" warm {', '.join(f'{r:.2f}x' for r in ratios['warm'])})"
        )


def _set_aside(settings, run_id: int, aside: bool) -> None:
    """The stored lists not served (as before the DAG's first run under a new model), or
    served again."""
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(
            "update model.similar_list_runs set status = %s where id = %s",
            ("failed" if aside else "complete", run_id),
        )


def _compute_lists(host: str, port: int, paths: list[str], connections: int = 8) -> None:
    """Each path asked on each of ``connections`` connections (not measured), so that every
    gunicorn worker (a keep-alive connection stays with one) has computed every list."""

    def ask_all(offset: int) -> None:
        state: dict = {}
        try:
            for i in range(len(paths)):
                loadgen._get_status(state, host, port, paths[(i + offset) % len(paths)])
        finally:
            loadgen._close(state)

    step = len(paths) // connections
    threads = [threading.Thread(target=ask_all, args=(c * step,)) for c in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
