"""The floor of a home page over HTTP: a Flask app under the same gunicorn (workers, threads)
that answers ``GET /api/v1/recs/<user_id>`` with the bare pgvector query alone (the nearest
items to the listener's ALS vector, the vector read in the same statement) from a pool like
the API's, as JSON. No token, rate limit, session, experiment, song details, impression or
metrics: what an HTTP request carrying the home page's query costs on this machine before
any of the API's work.

    gunicorn bench.bare_home_app:app   (bench/serving.py starts it on a free port)
"""

from __future__ import annotations

import orjson
import psycopg_pool
from flask import Flask, Response, request

from recsys.settings import load_settings

settings = load_settings()
app = Flask(__name__)
HOME_SQL = (
    "select f.id from model.active_factors f where f.kind = 'item' order by f.factors <#>"
    " (select u.factors from model.active_factors u where u.kind = 'user' and u.id = %s)"
    " limit %s"
)
_pools: list[psycopg_pool.ConnectionPool] = []  # one per worker process, made on first use


def _pool() -> psycopg_pool.ConnectionPool:
    if not _pools:
        _pools.append(
            psycopg_pool.ConnectionPool(
                settings.postgres_dsn,
                min_size=1,
                max_size=max(4, settings.webapp_threads),
                kwargs={"autocommit": True},
                configure=lambda conn: conn.execute(
                    f"set hnsw.ef_search = {int(settings.hnsw_ef_search)}"
                ),
                open=True,
            )
        )
    return _pools[0]


@app.get("/api/v1/recs/<user_id>")
def home(user_id: str):
    limit = int(request.args.get("limit", 20))
    with _pool().connection() as conn:
        rows = conn.execute(HOME_SQL, (user_id, limit)).fetchall()
    body = {
        "user_id": user_id,
        "items": [{"song_id": r[0], "rank": i} for i, r in enumerate(rows, 1)],
    }
    return Response(orjson.dumps(body), mimetype="application/json")
