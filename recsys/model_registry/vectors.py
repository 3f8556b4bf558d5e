"""Reading vectors from PostgreSQL + pgvector: the active ALS model's user and item factors
(``model.active_factors``) and the lyrics embeddings (``model.lyrics_embeddings``), and the
nearest-neighbour searches through their HNSW indexes; and the songs added to the catalog
since the served model was trained, which have no item vector yet.

No search ever returns a song an admin took down (``catalog.songs.taken_down_at``): each
candidate is checked against the partial index of the taken-down songs, inside the same
statement, so a takedown is seen by every statement that starts after it committed.

The web app's pooled sessions set ``hnsw.ef_search`` and pgvector's relaxed iterative scan
(so excluded songs never leave a page short); a search asking for more candidates than
``ef_search`` raises it for its own transaction. Read-only.
"""

from __future__ import annotations

import numpy as np

from recsys.model_registry.versions import ACTIVE_VERSION_SQL


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float64).tolist())) + "]"


# Joined onto catalog.songs as ``s``: the active model's item vector of each song, if any.
ITEM_FACTORS_JOIN = " left join model.active_factors as f on f.kind = 'item' and f.id = s.id"
# When the served model's training run started: a song added to the catalog later is "new"
# (the model cannot know it). Null before any model is served.
MODEL_TRAINED_AT = (
    "(select r.started_at from model.active_model as a join model.als_runs as r using (version))"
)

# Whether any song still served entered the catalog after the served model was trained: only
# then does a page look for new songs. The newest song is one probe of the created_at index
# (an EXISTS with the training time as its bound would scan every song when none is new).
NEW_SONGS_EXIST_SQL = (
    "coalesce((select max(ns.created_at) from catalog.songs as ns"
    f" where ns.taken_down_at is null) > {MODEL_TRAINED_AT}, false)"
)


def not_taken_down(song_id_sql: str) -> str:
    """A condition true unless the song ``song_id_sql`` (a qualified column) is taken down."""
    return (
        "not exists (select 1 from catalog.songs as down"
        f" where down.id = {song_id_sql} and down.taken_down_at is not null)"
    )


def search(conn, query_sql: str, params: dict, ef_search: int):
    """The executed cursor of a query whose nearest-neighbour scans each want ``params["n"]``
    rows: a search wanting more rows than ``ef_search`` widens it for its own transaction."""
    if params["n"] <= ef_search:
        return conn.execute(query_sql, params)
    with conn.transaction():
        conn.execute(
            "select set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            (str(min(params["n"], 1000)),),
        )
        return conn.execute(query_sql, params)


def _nearest(conn, query_sql: str, params: dict, ef_search: int) -> list[tuple[str, float]]:
    return [(r[0], float(r[1])) for r in search(conn, query_sql, params, ef_search).fetchall()]


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
    """(the served version, {song: ALS item vector}) for the songs it knows; the version is
    None when no model is served, whether or not any of the songs has a vector."""
    rows = conn.execute(
        f"select {ACTIVE_VERSION_SQL}, f.id, f.factors::text from (select) as one"
        " left join model.active_factors as f on f.kind = 'item' and f.id = any(%s)",
        (list(song_ids),),
    ).fetchall()
    return rows[0][0], {r[1]: parse_vector(r[2]) for r in rows if r[1] is not None}


def has_vectors_sql(song_id_sql: str) -> str:
    """Two columns: whether the song ``song_id_sql`` (a qualified column) has an ALS item
    vector in the active model, and whether it has a lyrics vector."""
    return (
        "exists (select 1 from model.active_factors as hf"
        f" where hf.kind = 'item' and hf.id = {song_id_sql}),"
        " exists (select 1 from model.lyrics_embeddings as hl"
        f" where hl.song_id = {song_id_sql})"
    )


def nearest_items(
    conn, version: int, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose ALS item vectors have the largest inner product with ``query``, a vector
    of model ``version``. Empty once another version is served: its vectors live in another
    space, maybe of another size (the version test is a constant, so PostgreSQL skips the
    search rather than comparing vectors of two models)."""
    return _nearest(
        conn,
        "select f.id, -(f.factors <#> %(q)s::vector) from model.active_factors as f"
        " where f.version = %(version)s and f.kind = 'item' and f.id <> all(%(exclude)s)"
        f" and {not_taken_down('f.id')}"
        " order by f.factors <#> %(q)s::vector limit %(n)s",
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
) -> dict[str, tuple[float | None, float | None, bool]]:
    """The song's ``candidates`` nearest ALS items (when ``by_als``) and nearest lyrics (when
    ``by_lyrics``), merged, each with both exact scores where it has the vectors (its ALS
    inner product with the song when ``by_als``, its lyrics cosine similarity when
    ``by_lyrics``, else None) and whether it is new (added since the served model was
    trained): ``{song: (als, lyrics, new)}``, from one statement, so from one snapshot of
    the model."""
    searches = []
    if by_als:
        searches.append(
            "(select f.id from model.active_factors as f where f.kind = 'item'"
            f" and f.id <> all(%(exclude)s) and {not_taken_down('f.id')}"
            f" order by f.factors <#> {ITEM_OF_SONG} limit %(n)s)"
        )
    if by_lyrics:
        searches.append(
            "(select l.song_id from model.lyrics_embeddings as l"
            f" where l.song_id <> all(%(exclude)s) and {not_taken_down('l.song_id')}"
            f" order by l.embedding <=> {LYRICS_OF_SONG} limit %(n)s)"
        )
    if not searches:
        return {}
    als_score = f"-(f.factors <#> {ITEM_OF_SONG})" if by_als else "null::float8"
    als_join = (
        " left join model.active_factors as f on f.kind = 'item' and f.id = c.id" if by_als else ""
    )
    lyrics_score = f"1 - (l.embedding <=> {LYRICS_OF_SONG})" if by_lyrics else "null::float8"
    lyrics_join = " left join model.lyrics_embeddings as l on l.song_id = c.id" if by_lyrics else ""
    is_new = (
        "exists (select 1 from catalog.songs as s"
        f" where s.id = c.id and s.created_at > {MODEL_TRAINED_AT})"
    )
    rows = search(
        conn,
        f"with c (id) as ({' union '.join(searches)})"
        f" select c.id, {als_score}, {lyrics_score}, {is_new} from c{als_join}{lyrics_join}",
        {"song": song_id, "exclude": exclude, "n": candidates},
        ef_search,
    ).fetchall()
    return {
        r[0]: (
            None if r[1] is None else float(r[1]),
            None if r[2] is None else float(r[2]),
            r[3],
        )
        for r in rows
    }


# "New from <artist>", then "New in <genre>": the newest songs of the artists, then of the
# genres, of the songs a listener heard (the most recently heard first), added since the
# served model was trained. Each artist's or genre's songs come newest first from the
# (artist_id, created_at) and (genre, created_at) indexes, stopped at the training time.
NEW_SONGS_SQL = f"""
    with heard as (
        select s.artist_id, s.genre, h.pos
        from unnest(%(heard)s::text[]) with ordinality as h (id, pos)
        join catalog.songs as s on s.id = h.id
    ),
    since as (select {MODEL_TRAINED_AT} as trained_at),
    artists as (select artist_id, min(pos) as pos from heard group by artist_id),
    genres as (select genre, min(pos) as pos from heard group by genre),
    candidates as (
        select n.id, 'artist' as why, a.pos, n.created_at
        from artists as a cross join since
        cross join lateral (
            select s.id, s.created_at from catalog.songs as s
            where s.artist_id = a.artist_id and s.created_at > since.trained_at
              and s.taken_down_at is null and s.id <> all(%(exclude)s)
            order by s.created_at desc, s.id limit %(n)s
        ) as n
        union all
        select n.id, 'genre', g.pos, n.created_at
        from genres as g cross join since
        cross join lateral (
            select s.id, s.created_at from catalog.songs as s
            where s.genre = g.genre and s.created_at > since.trained_at
              and s.taken_down_at is null and s.id <> all(%(exclude)s)
            order by s.created_at desc, s.id limit %(n)s
        ) as n
    )
    select id, why from candidates
    order by why <> 'artist', pos, created_at desc, id
    limit %(n)s * 2
"""


def new_songs(conn, heard: list[str], exclude: list[str], n: int) -> list[tuple[str, str]]:
    """Up to ``n`` songs added since the served model was trained, as ``(song, why)``: by the
    artists of the ``heard`` songs (newest first: the most recently heard artist first),
    why ``'artist'``, then in their genres, why ``'genre'``. Empty with no model served."""
    if n <= 0 or not heard:
        return []
    rows = conn.execute(NEW_SONGS_SQL, {"heard": heard, "exclude": exclude, "n": n}).fetchall()
    chosen: dict[str, str] = {}
    for song, why in rows:
        chosen.setdefault(song, why)
    return list(chosen.items())[:n]
