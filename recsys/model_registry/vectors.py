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


# Joined onto catalog.songs as ``s``: the active model's item vector of each song, if any.
ITEM_FACTORS_JOIN = " left join model.active_factors as f on f.kind = 'item' and f.id = s.id"


def _search(conn, query_sql: str, params: dict, ef_search: int) -> list[tuple]:
    """The rows of a query whose nearest-neighbour scans each want ``params["n"]`` rows."""
    if params["n"] <= ef_search:
        return conn.execute(query_sql, params).fetchall()
    with conn.transaction():
        conn.execute(
            "select set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            (str(min(params["n"], 1000)),),
        )
        return conn.execute(query_sql, params).fetchall()


def _nearest(conn, query_sql: str, params: dict, ef_search: int) -> list[tuple[str, float]]:
    return [(r[0], float(r[1])) for r in _search(conn, query_sql, params, ef_search)]


def parse_vector(text: str) -> np.ndarray:
    """pgvector's text form ``[1,2,3]`` as a numpy vector."""
    return np.array(text[1:-1].split(","), dtype=np.float64)


def user_vector(conn, user_id: str) -> tuple[int | None, np.ndarray | None]:
    """(version, vector) of the listener in the active model; vector None if unknown to it."""
    row = conn.execute(
        "select version, factors::text from model.active_factors where kind = 'user' and id = %s",
        (user_id,),
    ).fetchone()
    if row is None:
        return None, None
    return row[0], parse_vector(row[1])


def item_vectors(conn, song_ids) -> tuple[int | None, dict[str, np.ndarray]]:
    """(version, {song: ALS item vector}) for the songs the active model knows."""
    rows = conn.execute(
        "select version, id, factors::text from model.active_factors"
        " where kind = 'item' and id = any(%s)",
        (list(song_ids),),
    ).fetchall()
    version = rows[0][0] if rows else None
    return version, {r[1]: parse_vector(r[2]) for r in rows}


def song_has_vectors(conn, song_id: str, model_served: bool) -> tuple[bool, bool]:
    """(has an ALS item vector, has a lyrics vector)."""
    als = "exists (select 1 from model.active_factors where kind = 'item' and id = %(s)s)"
    row = conn.execute(
        f"select {als if model_served else 'false'},"
        " exists (select 1 from model.lyrics_embeddings where song_id = %(s)s)",
        {"s": song_id},
    ).fetchone()
    return row[0], row[1]


def nearest_items(
    conn, version: int, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose ALS item vectors have the largest inner product with ``query``, a vector
    of model ``version``. Empty once another version is served: its vectors live in another
    space, maybe of another size (the version test is a constant, so PostgreSQL skips the
    search rather than comparing vectors of two models)."""
    return _nearest(
        conn,
        "select id, -(factors <#> %(q)s::vector) from model.active_factors"
        " where version = %(version)s and kind = 'item' and id <> all(%(exclude)s)"
        " order by factors <#> %(q)s::vector limit %(n)s",
        {"q": vector_literal(query), "version": version, "exclude": exclude, "n": candidates},
        ef_search,
    )


# Next songs: the current song's own vector is read inside PostgreSQL (an init plan whose
# result the HNSW scan takes as its query), so no vector crosses the wire.
ITEM_OF_SONG = "(select factors from model.active_factors where kind = 'item' and id = %(song)s)"
LYRICS_OF_SONG = "(select embedding from model.lyrics_embeddings where song_id = %(song)s)"


def next_song_candidates(
    conn,
    song_id: str,
    exclude: list[str],
    candidates: int,
    ef_search: int,
    by_als: bool,
    by_lyrics: bool,
) -> dict[str, tuple[float | None, float | None]]:
    """The song's ``candidates`` nearest ALS items (when ``by_als``) and nearest lyrics (when
    ``by_lyrics``), merged, each with both exact scores where it has the vectors (its ALS
    inner product with the song when ``by_als``, its lyrics cosine similarity when
    ``by_lyrics``, else None): ``{song: (als, lyrics)}``, from one statement, so from one
    snapshot of the model."""
    searches = []
    if by_als:
        searches.append(
            "(select id from model.active_factors where kind = 'item'"
            f" and id <> all(%(exclude)s) order by factors <#> {ITEM_OF_SONG} limit %(n)s)"
        )
    if by_lyrics:
        searches.append(
            "(select song_id from model.lyrics_embeddings where song_id <> all(%(exclude)s)"
            f" order by embedding <=> {LYRICS_OF_SONG} limit %(n)s)"
        )
    if not searches:
        return {}
    als_score = f"-(f.factors <#> {ITEM_OF_SONG})" if by_als else "null::float8"
    als_join = (
        " left join model.active_factors as f on f.kind = 'item' and f.id = c.id" if by_als else ""
    )
    lyrics_score = f"1 - (l.embedding <=> {LYRICS_OF_SONG})" if by_lyrics else "null::float8"
    lyrics_join = " left join model.lyrics_embeddings as l on l.song_id = c.id" if by_lyrics else ""
    rows = _search(
        conn,
        f"with c (id) as ({' union '.join(searches)})"
        f" select c.id, {als_score}, {lyrics_score} from c{als_join}{lyrics_join}",
        {"song": song_id, "exclude": exclude, "n": candidates},
        ef_search,
    )
    return {
        r[0]: (None if r[1] is None else float(r[1]), None if r[2] is None else float(r[2]))
        for r in rows
    }
