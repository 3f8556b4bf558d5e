"""Serving: home and next-song requests at 32 concurrent clients, beside the bare pgvector query.

A throwaway stack with the large demo world: the project's ALS (rank 64) trained on its recent
listening and served from pgvector, lyrics vectors (random unit 384-d vectors: latency does not
depend on what they mean) with their HNSW index, and a few hundred listeners with a session
in Redis. Then, each for ``--seconds``, 32 keep-alive clients (the same 2 cores as the server)
request home pages, next songs, and, as the floor, the bare nearest-items query for the same
user vectors straight to PostgreSQL from 32 connections.

    python -m bench serving [--seconds 60] [--days 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from urllib.parse import urlparse

import numpy as np
import psycopg
import requests

from bench import loadgen
from bench.hnsw import train_factors
from bench.stack import throwaway_stack
from recsys import db
from recsys import model_registry as registry
from recsys.stack import kafka, redis, webapp
from webapp.services.vectors import vector_literal

CLIENTS = 32
PAGE = 20
LYRICS_DIM = 384


class _BareQuery:
    """Picklable: each client thread holds its own PostgreSQL connection."""

    def __init__(self, dsn: str, ef_search: int):
        self.dsn, self.ef_search = dsn, ef_search

    def __call__(self):
        def call(state, literal):
            if "conn" not in state:
                state["conn"] = psycopg.connect(self.dsn, autocommit=True)
                state["conn"].execute(f"set hnsw.ef_search = {int(self.ef_search)}")
            rows = (
                state["conn"]
                .execute(
                    "select id from model.active_factors where kind = 'item'"
                    " order by factors <#> %s::vector limit %s",
                    (literal, PAGE),
                )
                .fetchall()
            )
            return len(rows) == PAGE

        return call


def serve_model(settings, world, days: int) -> tuple[list[str], np.ndarray, list[str]]:
    user_ids, user_f, song_ids, item_f = train_factors(world, days, 64)
    rng = np.random.default_rng(3)
    lyrics = rng.normal(size=(len(world.songs), LYRICS_DIM))
    lyrics /= np.linalg.norm(lyrics, axis=1, keepdims=True)
    with db.connect(settings, autocommit=True) as conn:
        version = registry.create_run(
            conn, dt.date(2026, 8, 3), dt.date(2026, 11, 1), dt.date(2026, 10, 25), {}, None
        )
        with conn.transaction():
            registry.write_factors(conn, version, user_ids, user_f, song_ids, item_f)
            with conn.cursor().copy(
                "copy model.lyrics_embeddings (song_id, lyrics_md5, embedding) from stdin"
            ) as copy:
                for song, vector in zip(world.songs, lyrics, strict=True):
                    copy.write_row((song["id"], "bench", vector_literal(vector)))
        registry.finish_run(conn, version, "passed")
        registry.activate(conn, version, by="bench")
    return user_ids, user_f, song_ids


def start_sessions(settings, user_ids, song_ids, rng, users: int = 500) -> None:
    """Three completed songs each for ``users`` listeners, through the event API."""
    now = int(time.time() * 1000)
    events = [
        {
            "user_id": u,
            "track_id": s,
            "timestamp": now + i,
            "action": "complete",
            "duration": 180,
            "total_duration": 180,
        }  # fmt: skip
        for u in rng.choice(user_ids, size=users, replace=False)
        for i, s in enumerate(rng.choice(song_ids, size=3, replace=False))
    ]
    for i in range(0, len(events), 1000):
        answer = requests.post(
            f"{settings.webapp_url}/api/v1/logs/events", json={"events": events[i : i + 1000]}
        )
        answer.raise_for_status()


def report(name: str, result: loadgen.LatencyResult, floor: loadgen.LatencyResult | None):
    p50, p99 = result.percentile(50), result.percentile(99)
    line = (
        f"{name:<22} {result.requests_per_second:8.0f} req/s  p50 {p50:6.2f} ms  "
        f"p99 {p99:6.2f} ms  errors {result.errors}"
    )
    if floor is not None:
        line += f"   {p50 / floor.percentile(50):4.1f}x the floor's p50"
    print(line, flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args(argv)

    with throwaway_stack(args.size, kafka, redis, webapp) as (settings, world):
        user_ids, user_f, song_ids = serve_model(settings, world, args.days)
        rng = np.random.default_rng(0)
        start_sessions(settings, user_ids, song_ids, rng)
        sample = rng.choice(len(user_ids), size=2000, replace=False)
        users = [user_ids[i] for i in sample]
        home = [f"/api/v1/recs/{u}?limit={PAGE}" for u in users]
        following = [
            f"/api/v1/recs/{u}/{s}?limit={PAGE}"
            for u, s in zip(users, rng.choice(song_ids, size=len(users)), strict=True)
        ]
        literals = [vector_literal(user_f[i]) for i in sample]
        url = urlparse(settings.webapp_url)
        print(
            f"\n{len(song_ids):,} songs with ALS vectors, {len(user_ids):,} listeners; "
            f"{CLIENTS} clients, {args.seconds:.0f} s each, gunicorn "
            f"{settings.webapp_workers}x{settings.webapp_threads} threads\n"
        )
        floor = loadgen.closed_loop(
            _BareQuery(settings.postgres_dsn, settings.hnsw_ef_search),
            literals,
            2,
            CLIENTS // 2,
            args.seconds,
        )
        report("bare pgvector query", floor, None)
        report(
            "home (session)",
            loadgen.get_for(url.hostname, url.port, home, CLIENTS, args.seconds),
            floor,
        )
        report(
            "next song (hybrid)",
            loadgen.get_for(url.hostname, url.port, following, CLIENTS, args.seconds),
            floor,
        )
        print("\ntargets on this 2-core machine: p99 <= 25 ms, >= 800 req/s for home, "
              "p50 <= 3x the bare query")  # fmt: skip
