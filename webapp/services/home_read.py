"""The home page's one read: the listener, the served model, what they disliked and the
nearest items to their session vector, in a single statement.

The session vector is blended inside PostgreSQL: the listener's ALS vector from the served
model, ``w * v_long + (1 - w) * v_short`` with the short-term vector from Redis when it was
built in that model's space (one alone when the other is missing), and is the HNSW search's
query as an init plan, so nothing but the short-term vector crosses the wire and the search
reads the same model, in the same snapshot, as the listener's row. The candidates leave out
the recent plays given, the listener's disliked songs and taken-down songs. Without any
vector (a cold start, or no model served) the search does not run.

Reads catalog.users, catalog.songs, catalog.song_feedback, catalog.song_details_version and
the served model (model.active_model, model.active_factors); writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from recsys.model_registry import ACTIVE_VERSION_SQL
from recsys.model_registry.vectors import NEW_SONGS_EXIST_SQL, not_taken_down, vector_literal
from webapp.services.feedback import disliked_sql
from webapp.services.served_songs import DETAILS_VERSION_SQL
from webapp.services.sessions import Session

_DISLIKED_SONGS, _DISLIKED_ARTISTS = disliked_sql("%(user)s")


def _weights(weight: str) -> str:
    """A vector of the listener's ALS vector's size whose every element is ``weight``."""
    return f"array_fill(({weight})::real, array[vector_dims(lt.factors)])::vector"


HOME_SQL = f"""
    with disliked as materialized (select {_DISLIKED_SONGS} as songs),
    short_term as (
        select %(short)s::vector as v
        where %(short_version)s::bigint = {ACTIVE_VERSION_SQL}
    ),
    query as materialized (
        select case
                   when lt.factors is null then st.v
                   when st.v is null or vector_dims(st.v) <> vector_dims(lt.factors)
                       then lt.factors
                   else lt.factors * {_weights("%(w)s")} + st.v * {_weights("1 - %(w)s")}
               end as v,
               lt.factors is not null as has_long,
               st.v is not null as has_short
        from (select) as one
        left join model.active_factors as lt on lt.kind = 'user' and lt.id = %(user)s
        left join short_term as st on true
    ),
    hits as materialized (
        select f.id, -(f.factors <#> (select v from query)) as score
        from model.active_factors as f
        where f.kind = 'item' and (select v from query) is not null
          and f.id <> all(%(exclude)s) and f.id <> all((select songs from disliked)::text[])
          and {not_taken_down("f.id")}
        order by f.factors <#> (select v from query)
        limit %(n)s
    )
    select u.onboarding_genres, {ACTIVE_VERSION_SQL}, {NEW_SONGS_EXIST_SQL},
           (select songs from disliked), {_DISLIKED_ARTISTS},
           q.has_long, q.has_short, {DETAILS_VERSION_SQL},
           (select array_agg(id order by score desc, id) from hits),
           (select array_agg(score order by score desc, id) from hits)
    from catalog.users as u cross join query as q
    where u.id = %(user)s
"""


@dataclass(frozen=True)
class HomeRead:
    genres: list[str]
    version: int | None
    new_songs_exist: bool
    disliked_songs: list[str]
    disliked_artists: list[str]
    has_long_term: bool
    # whether the session's short-term vector is the served model's (so it was blended in)
    has_short_term: bool
    details_version: int | None
    # (song, inner product with the session vector), best first; empty without a vector
    nearest: list[tuple[str, float]]


def read_home(
    conn,
    user_id: str,
    session: Session,
    long_weight: float,
    exclude: list[str],
    candidates: int,
    ef_search: int,
) -> HomeRead | None:
    """The listener's home read; None for an unknown listener."""
    short = session.short_term
    params = {
        "user": user_id,
        "short": None if short is None else vector_literal(short),
        "short_version": None if short is None else session.short_term_version,
        "w": long_weight,
        "exclude": exclude,
        "n": candidates,
    }
    if candidates <= ef_search:
        row = conn.execute(HOME_SQL, params).fetchone()
    else:  # a search wanting more rows than ef_search widens it for its own transaction
        with conn.transaction():
            conn.execute(
                "select set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (str(min(candidates, 1000)),),
            )
            row = conn.execute(HOME_SQL, params).fetchone()
    if row is None:
        return None
    genres, version, new_songs, songs, artists, has_long, has_short, details, ids, scores = row
    return HomeRead(
        list(genres),
        version,
        new_songs,
        songs,
        artists,
        has_long,
        has_short,
        details,
        list(zip(ids or [], scores or [], strict=True)),
    )
