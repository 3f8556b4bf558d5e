"""Serving: home and next-song requests at 4 and 32 concurrent clients, beside the bare
pgvector query; with and without impression logging, in token and in open mode.

A throwaway stack with the large demo world: the project's ALS (rank 64) trained on its recent
listening and served from pgvector, lyrics vectors (synthetic, clustered by genre and mood like
real sentence embeddings) with their HNSW index, and 500 listeners with a session in Redis.
Then, each for ``--seconds``, keep-alive clients (on the same 2 cores as the server) request
home pages and next songs; each is preceded by its floor: the bare pgvector queries for the
same vectors (home: the nearest items to the user's vector; next song: the nearest items and
the nearest lyrics to the song's) straight to PostgreSQL from as many connections. As in
production, the web app runs in token mode (RECSYS_AUTH_MODE=token): every request carries
the benchmark's service token (scopes recs:read:any and events:write:any, signed with the
stack's RECSYS_AUTH_SECRET), and every answer is logged as an impression on Kafka.

The last rounds measure again at 32 clients in three configurations in turn, the web app
restarted for each: token mode with impressions on, token mode with
RECSYS_IMPRESSIONS_ENABLED off, and open mode (RECSYS_AUTH_MODE=open, no token sent) with
impressions on. Interleaved, a change of the machine's load weighs on all three alike; the
cost of impression logging is 1 - (on / off) and the cost of token verification
1 - (token / open), each from the rounds' totals.

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
from bench.stack import bare_http_app, restart_webapp, service_headers, throwaway_stack
from recsys import db
from recsys import model_registry as registry
from recsys.model_registry.vectors import vector_literal
from recsysctl.stack import kafka, redis, webapp

CLIENTS = (4, 32)
PAGE = 20
LYRICS_DIM = 384
ITEMS_SQL = (
    "select id from model.active_factors where kind = 'item'"
    " order by factors <#> %s::vector limit %s"
)
LYRICS_SQL = (
    "select song_id from model.lyrics_embeddings order by embedding <=> %s::vector limit %s"
)


class _BareQueries:
    """Picklable: the floor, each client thread with its own PostgreSQL connection. An item
    is a list of (sql, vector literal): the nearest-neighbour queries one request needs."""

    def __init__(self, dsn: str, ef_search: int):
        self.dsn, self.ef_search = dsn, ef_search

    def __call__(self):
        def call(state, queries):
            if "conn" not in state:
                state["conn"] = psycopg.connect(self.dsn, autocommit=True)
                state["conn"].execute(f"set hnsw.ef_search = {int(self.ef_search)}")
            conn = state["conn"]
            return all(
                len(conn.execute(sql, (literal, PAGE)).fetchall()) == PAGE
                for sql, literal in queries
            )

        return call


def clustered_lyrics(world) -> np.ndarray:
    """Unit 384-d vectors clustered by (genre, mood), as sentence embeddings of the demo's
    vocabulary-built lyrics are, without encoding 20,000 songs first."""
    rng = np.random.default_rng(3)
    centers: dict[tuple, np.ndarray] = {}
    rows = []
    for song, mood in zip(world.songs, world.moods, strict=True):
        key = (song["genre"], mood)
        if key not in centers:
            centers[key] = rng.normal(size=LYRICS_DIM)
        rows.append(centers[key] + 1.5 * rng.normal(size=LYRICS_DIM))
    lyrics = np.array(rows)
    return lyrics / np.linalg.norm(lyrics, axis=1, keepdims=True)


def serve_model(settings, world, days: int):
    """Train, write and serve the ALS model, and write the lyrics vectors."""
    user_ids, user_f, song_ids, item_f = train_factors(world, days, 64)
    lyrics = clustered_lyrics(world)
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
    return user_ids, user_f, song_ids, item_f, lyrics


def start_sessions(settings, headers, user_ids, song_ids, rng, users: int = 500) -> None:
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
        for u in rng.choice(user_ids, size=min(users, len(user_ids)), replace=False)
        for i, s in enumerate(rng.choice(song_ids, size=3, replace=False))
    ]
    for i in range(0, len(events), 1000):
        answer = requests.post(
            f"{settings.webapp_url}/api/v1/logs/events",
            json={"events": events[i : i + 1000]},
            headers=headers,
        )
        answer.raise_for_status()


def request_paths(user_ids, song_ids, rng, count: int = 2000):
    """Home and next-song request paths for ``count`` sampled listeners (each with a random
    song): (listener rows, song rows, home paths, next-song paths)."""
    sample = rng.choice(len(user_ids), size=min(count, len(user_ids)), replace=False)
    users = [user_ids[i] for i in sample]
    songs = rng.choice(len(song_ids), size=len(users))
    home = [f"/api/v1/recs/{u}?limit={PAGE}" for u in users]
    following = [
        f"/api/v1/recs/{u}/{song_ids[s]}?limit={PAGE}" for u, s in zip(users, songs, strict=True)
    ]
    return sample, songs, home, following


def report(name: str, result: loadgen.LatencyResult, floor: loadgen.LatencyResult | None):
    p50, p99 = result.percentile(50), result.percentile(99)
    line = (
        f"{name:<44} {result.requests_per_second:8.0f} req/s  p50 {p50:6.2f} ms  "
        f"p99 {p99:6.2f} ms  errors {result.errors}"
    )
    if floor is not None:
        line += (
            f"   {result.requests_per_second / floor.requests_per_second:4.2f}x the floor's"
            f" req/s, p50 {p50 / floor.percentile(50):4.1f}x"
        )
    print(line, flush=True)


# Rounds of the comparisons (impressions on/off, token/open mode): interleaved, each round
# in another order, so a change of the machine's load during the run weighs on every
# configuration alike; each restarted web app is warmed up before it is measured.
COST_ROUNDS = 4
WARM_UP_S = 3.0
# Production's mode, whatever the shell running the benchmark says.
TOKEN_MODE = {"RECSYS_AUTH_MODE": "token"}
# (name, auth mode, impressions enabled) of each configuration, in the order of a round.
CONFIGURATIONS = (
    ("token", "token", True),
    ("no impressions", "token", False),
    ("open", "open", True),
)


def configuration_costs(settings, url, surfaces, headers, seconds: float) -> None:
    """The throughput at the most clients in each of CONFIGURATIONS, in COST_ROUNDS
    interleaved rounds of ``seconds / 2`` per surface (the web app restarted and warmed up
    for each), and the costs of impression logging and of token verification from the
    totals, and as the median of the rounds' costs."""
    clients = CLIENTS[-1]
    served = {(name, c): [] for name, _, _ in surfaces for c, _, _ in CONFIGURATIONS}
    for round_ in range(COST_ROUNDS):
        shift = round_ % len(CONFIGURATIONS)
        for config, mode, impressions_on in CONFIGURATIONS[shift:] + CONFIGURATIONS[:shift]:
            restart_webapp(
                settings,
                RECSYS_AUTH_MODE=mode,
                RECSYS_IMPRESSIONS_ENABLED=str(impressions_on).lower(),
            )
            sent = headers if mode == "token" else None  # an open stack's clients have none
            for _, paths, _ in surfaces:
                loadgen.get_for(url.hostname, url.port, paths, clients, WARM_UP_S, sent)
            for name, paths, _ in surfaces:
                result = loadgen.get_for(url.hostname, url.port, paths, clients, seconds / 2, sent)
                if result.errors:
                    print(f"{name}, {config}: {result.errors} answers were not 200", flush=True)
                served[(name, config)].append(result.requests_per_second)
    for name, _, _ in surfaces:
        for label, what, without in (
            ("impressions on/off", "impression logging", "no impressions"),
            ("token/open mode", "token verification", "open"),
        ):
            a, b = served[(name, "token")], served[(name, without)]
            rounds = " ".join(f"{x:.0f}/{y:.0f}" for x, y in zip(a, b, strict=True))
            median = float(np.median([1 - x / y for x, y in zip(a, b, strict=True)]))
            print(
                f"{name}, {clients} clients, {label} req/s by round: {rounds};"
                f" mean {sum(a) / len(a):.0f}/{sum(b) / len(b):.0f} req/s;"
                f" {what} costs {1 - sum(a) / sum(b):+.1%} of throughput"
                f" (median of the rounds {median:+.1%})",
                flush=True,
            )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args(argv)

    stack = throwaway_stack(args.size, kafka, redis, webapp, environment=TOKEN_MODE)
    with stack as (settings, world):
        user_ids, user_f, song_ids, item_f, lyrics = serve_model(settings, world, args.days)
        rng = np.random.default_rng(0)
        headers = service_headers(settings, ["recs:read:any", "events:write:any"])
        start_sessions(settings, headers, user_ids, song_ids, rng)
        sample, songs, home, following = request_paths(user_ids, song_ids, rng)
        lyrics_row = {song["id"]: i for i, song in enumerate(world.songs)}
        home_floor = [[(ITEMS_SQL, vector_literal(user_f[i]))] for i in sample]
        next_floor = [
            [
                (ITEMS_SQL, vector_literal(item_f[s])),
                (LYRICS_SQL, vector_literal(lyrics[lyrics_row[song_ids[s]]])),
            ]
            for s in songs
        ]
        url = urlparse(settings.webapp_url)
        print(
            f"\n{len(song_ids):,} songs with ALS vectors, {len(user_ids):,} listeners; "
            f"{' and '.join(map(str, CLIENTS))} clients, {args.seconds:.0f} s each, gunicorn "
            f"{settings.webapp_workers}x{settings.webapp_threads} threads, "
            f"RECSYS_AUTH_MODE={settings.auth_mode} (a service token on every request)\n"
        )
        bare = _BareQueries(settings.postgres_dsn, settings.hnsw_ef_search)
        surfaces = (("home", home, home_floor), ("next song", following, next_floor))
        with bare_http_app(settings, "bench.bare_home_app:app") as bare_port:
            for name, paths, queries in surfaces:
                for clients in CLIENTS:
                    floor = loadgen.closed_loop(bare, queries, 2, clients // 2, args.seconds)
                    report(f"{name}, {clients} clients: bare pgvector", floor, None)
                    if name == "home":
                        http = loadgen.get_for(
                            url.hostname, bare_port, paths, clients, args.seconds
                        )
                        report(f"{name}, {clients} clients: bare HTTP app", http, floor)
                    served = loadgen.get_for(
                        url.hostname, url.port, paths, clients, args.seconds, headers
                    )
                    report(f"{name}, {clients} clients: API", served, floor)
        print()
        configuration_costs(settings, url, surfaces, headers, args.seconds)
        print(
            "\ntargets on this 2-core machine: home API >= 0.4x the bare query's req/s;"
            " impression logging <= 10% of throughput; token verification <= 5%"
        )
