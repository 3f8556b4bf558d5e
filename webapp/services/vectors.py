"""Reading vectors from PostgreSQL + pgvector: the active ALS model's user and item factors
(``model.active_factors``) and the lyrics embeddings (``model.lyrics_embeddings``), and the
nearest-neighbour searches through their HNSW indexes.

The web app's pooled sessions set ``hnsw.ef_search`` and pgvector's relaxed iterative scan
(so excluded songs never leave a page short); a search asking for more candidates than
``ef_search`` raises it for its own transaction. Read-only.
"""

from __future__ import annotations

import numpy as np


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float64).tolist())) + "]"


def active_version(conn) -> int | None:
    row = conn.execute("select version from model.active_model").fetchone()
    return row[0] if row else None


def _nearest(conn, query_sql: str, params: dict, ef_search: int) -> list[tuple[str, float]]:
    if params["n"] <= ef_search:
        rows = conn.execute(query_sql, params).fetchall()
    else:
        with conn.transaction():
            conn.execute(
                "select set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (str(min(params["n"], 1000)),),
            )
            rows = conn.execute(query_sql, params).fetchall()
    return [(r[0], float(r[1])) for r in rows]


def user_vector(conn, user_id: str) -> tuple[int | None, np.ndarray | None]:
    """(version, vector) of the listener in the active model; vector None if unknown to it."""
    row = conn.execute(
        "select version, factors::real[] from model.active_factors where kind = 'user' and id = %s",
        (user_id,),
    ).fetchone()
    if row is None:
        return None, None
    return row[0], np.asarray(row[1], dtype=np.float64)


def item_vectors(conn, song_ids) -> tuple[int | None, dict[str, np.ndarray]]:
    """(version, {song: ALS item vector}) for the songs the active model knows."""
    rows = conn.execute(
        "select version, id, factors::real[] from model.active_factors"
        " where kind = 'item' and id = any(%s)",
        (list(song_ids),),
    ).fetchall()
    version = rows[0][0] if rows else None
    return version, {r[1]: np.asarray(r[2], dtype=np.float64) for r in rows}


def lyrics_vectors(conn, song_ids) -> dict[str, np.ndarray]:
    rows = conn.execute(
        "select song_id, embedding::real[] from model.lyrics_embeddings where song_id = any(%s)",
        (list(song_ids),),
    ).fetchall()
    return {r[0]: np.asarray(r[1], dtype=np.float64) for r in rows}


def nearest_items(
    conn, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose ALS item vectors have the largest inner product with ``query``."""
    return _nearest(
        conn,
        "select id, -(factors <#> %(q)s::vector) from model.active_factors"
        " where kind = 'item' and id <> all(%(exclude)s)"
        " order by factors <#> %(q)s::vector limit %(n)s",
        {"q": vector_literal(query), "exclude": exclude, "n": candidates},
        ef_search,
    )


def nearest_lyrics(
    conn, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose lyrics embeddings are closest to ``query`` (cosine similarity)."""
    return _nearest(
        conn,
        "select song_id, 1 - (embedding <=> %(q)s::vector) from model.lyrics_embeddings"
        " where song_id <> all(%(exclude)s)"
        " order by embedding <=> %(q)s::vector limit %(n)s",
        {"q": vector_literal(query), "exclude": exclude, "n": candidates},
        ef_search,
    )
