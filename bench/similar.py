"""Similar songs: GET /api/v1/songs/<id>/similar at 4 and 32 concurrent clients, beside the
bare pgvector queries it needs.

The stack and model are the serving benchmark's (bench/serving.py): a throwaway stack with
the demo world (large by default), the project's ALS (rank 64) trained on its recent
listening and served from pgvector, clustered synthetic lyrics vectors with their HNSW
index, the web app in token mode. Each round is preceded by its floor: the song's nearest
items by its ALS vector and nearest lyrics by its lyrics vector, straight to PostgreSQL from
as many connections. Then the API twice: cold, every request for a song no request asked
for before (each worker computes the list), and warm, 500 songs asked again and again (each
worker keeps a song's list, webapp.services.song_radio.SimilarSongs). The endpoint needs no
token; the clients send none. Issue 21's target: the endpoint within 3x the bare queries at
the same concurrency (req/s at least a third of the floor's).

    python -m bench similar [--size large] [--days 30] [--seconds 30]
"""

from __future__ import annotations

import argparse
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
from bench.stack import throwaway_stack
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
        ratios = []
        cold_at = 0
        for clients in CLIENTS:
            floor = loadgen.closed_loop(bare, floor_queries, 2, clients // 2, args.seconds)
            report(f"similar songs, {clients} clients: bare pgvector", floor, None)
            # songs no request asked for yet (a round of 32 clients takes the larger share)
            share = len(cold_songs) // 4 if clients == CLIENTS[0] else len(cold_songs)
            cold = [path(s) for s in cold_songs[cold_at : cold_at + share]]
            cold_at += share
            served = loadgen.get_for(url.hostname, url.port, cold, clients, args.seconds)
            report(f"similar songs, {clients} clients: API, cold", served, floor)
            warm = [path(s) for s in warm_songs]
            kept = loadgen.get_for(url.hostname, url.port, warm, clients, args.seconds)
            report(f"similar songs, {clients} clients: API, warm", kept, floor)
            ratios.append(served.requests_per_second / floor.requests_per_second)
            ratios.append(kept.requests_per_second / floor.requests_per_second)
            if len(served.latencies_ms) >= len(cold):
                print(f"  (the cold round ran out of new songs: {len(cold):,})", flush=True)
        verdict = "met" if min(ratios[1::2]) >= TARGET else "NOT met"
        print(
            f"\ntarget: the API's req/s at least {TARGET:.2f}x the bare queries' (within 3x)"
            f" at each concurrency, warm: {verdict}"
            f" (cold {', '.join(f'{r:.2f}x' for r in ratios[0::2])};"
            f" warm {', '.join(f'{r:.2f}x' for r in ratios[1::2])})"
        )
