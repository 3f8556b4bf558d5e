"""The home page's one read: the listener, the served model, what they disliked and the
nearest items to their session vector, in a single statement.

The session vector is blended inside PostgreSQL: the listener's ALS vector from the served
model, ``w * v_long + (1 - w) * v_short`` with the short-term vector from Redis when it was
built in that model's space (one alone when the other is missing), and is the HNSW search's
query as an init plan, so nothing but the short-term vector crosses the wire and the search
reads the same model, in the same snapshot, as the listener's row. The candidates leave out
the recent plays given, the listener's disliked songs and taken-down songs. Without any
vector (a cold start, or no model served) the search does not run.

Each worker keeps the last search of each listener (``KeptSearches``). The same search
again, the same session (short-term vector and recent plays), blend weight and pool, gives
the same candidates while the served model, the catalog details version (which every
takedown and restore moves) and the listener's disliked songs are those it was made with:
the statement compares those three in its own snapshot and runs the search only when one
moved, so a kept list is never served after a swap, a takedown or a dislike. A page of a
later offset, a reload, or a listener's two tabs cost no search: a worker keeping a search
asks a small statement (``KEPT_SQL``: the same row without the search, and whether the kept
search stands), planned once per pooled connection instead of every time, and the searching
statement follows only when something moved.

Reads catalog.users, catalog.songs, catalog.song_feedback, catalog.song_details_version and
the served model (model.active_model, model.active_factors); writes nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from recsys.model_registry import ACTIVE_VERSION_SQL, vectors
from recsys.model_registry.vectors import NEW_SONGS_EXIST_SQL, not_taken_down, vector_literal
from webapp.services.feedback import disliked_sql
from webapp.services.served_songs import DETAILS_VERSION_SQL
from webapp.services.sessions import Session

_DISLIKED_SONGS, _DISLIKED_ARTISTS = disliked_sql("%(user)s")


def _weights(weight: str) -> str:
    """A vector of the listener's ALS vector's size whose every element is ``weight``."""
    return f"array_fill(({weight})::real, array[vector_dims(lt.factors)])::vector"


# The listener's disliked songs, sorted (a kept search records them), and whether the
# worker's kept search still stands: the served model, the details version and those
# dislikes are the ones it was made with. Both statements below start with these CTEs.
_DISLIKED_AND_KEPT = f"""
    disliked as materialized (
        select coalesce((select array_agg(d order by d) from unnest({_DISLIKED_SONGS}) as d),
                        '{{}}') as songs
    ),
    kept as materialized (
        select coalesce(%(kept_version)s::bigint = {ACTIVE_VERSION_SQL}
                        and %(kept_details)s::bigint = {DETAILS_VERSION_SQL}
                        and %(kept_disliked)s::text[] = (select songs from disliked), false)
               as still
    )"""

HOME_SQL = f"""
    with {_DISLIKED_AND_KEPT},
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
          and not (select still from kept)
          and f.id <> all(%(exclude)s) and f.id <> all((select songs from disliked)::text[])
          and {not_taken_down("f.id")}
        order by f.factors <#> (select v from query)
        limit %(n)s
    )
    select u.onboarding_genres, {ACTIVE_VERSION_SQL}, {NEW_SONGS_EXIST_SQL},
           (select songs from disliked), {_DISLIKED_ARTISTS},
           q.has_long, q.has_short, {DETAILS_VERSION_SQL},
           (select array_agg(id order by score desc, id) from hits),
           (select array_agg(score order by score desc, id) from hits),
           (select still from kept)
    from catalog.users as u cross join query as q
    where u.id = %(user)s
"""


# A worker keeping the listener's last search asks this first: everything HOME_SQL answers
# but the search, and whether the kept search still stands. A small statement, planned once
# per pooled connection; only when something moved does HOME_SQL follow and search.
KEPT_SQL = f"""
    with {_DISLIKED_AND_KEPT}
    select u.onboarding_genres, {ACTIVE_VERSION_SQL}, {NEW_SONGS_EXIST_SQL},
           (select songs from disliked), {_DISLIKED_ARTISTS},
           exists (select from model.active_factors where kind = 'user' and id = %(user)s),
           coalesce(%(short_version)s::bigint = {ACTIVE_VERSION_SQL}, false),
           {DETAILS_VERSION_SQL}, null::text[], null::float8[], (select still from kept)
    from catalog.users as u
    where u.id = %(user)s
"""


@dataclass(frozen=True)
class KeptSearch:
    """A listener's last search: what it was made from, and its candidates."""

    inputs: tuple  # (short-term version, short-term vector's bytes, recent plays, weight, pool)
    version: int
    details_version: int
    disliked: list[str]
    nearest: list[tuple[str, float]]


class KeptSearches:
    """The last search of each listener, in this worker; at most ``max_listeners``."""

    def __init__(self, max_listeners: int = 10_000):
        self.max_listeners = max_listeners
        self._kept: dict[str, KeptSearch] = {}
        self._lock = threading.Lock()

    def __contains__(self, user_id: str) -> bool:
        return user_id in self._kept

    def get(self, user_id: str, inputs: tuple) -> KeptSearch | None:
        kept = self._kept.get(user_id)
        return kept if kept is not None and kept.inputs == inputs else None

    def keep(self, user_id: str, search: KeptSearch) -> None:
        with self._lock:
            if len(self._kept) >= self.max_listeners and user_id not in self._kept:
                self._kept.clear()
            self._kept[user_id] = search


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
    candidates: int,
    ef_search: int,
    searches: KeptSearches,
) -> HomeRead | None:
    """The listener's home read, the session's recent plays excluded; None for an unknown
    listener. The search comes from ``searches`` when it is still the same."""
    short = session.short_term
    inputs = (
        session.short_term_version,
        None if short is None else short.tobytes(),
        tuple(session.recent),
        long_weight,
        candidates,
    )
    kept = searches.get(user_id, inputs)
    params = {
        "user": user_id,
        "short_version": None if short is None else session.short_term_version,
        "w": long_weight,
        "exclude": session.recent,
        "n": candidates,
        "kept_version": kept and kept.version,
        "kept_details": kept and kept.details_version,
        "kept_disliked": kept and kept.disliked,
    }
    row = None
    if kept is not None:
        row = conn.execute(KEPT_SQL, params).fetchone()
        if row is None:
            return None
    if row is None or not row[-1]:  # no kept search, or it no longer stands: search
        # the vector's text is made only for the statement that sends it
        params["short"] = None if short is None else vector_literal(short)
        row = vectors.search(conn, HOME_SQL, params, ef_search).fetchone()
        if row is None:
            return None
    genres, version, new_songs, songs, artists, has_long, has_short, details, ids, scores, still = (
        row
    )
    if still:
        nearest = kept.nearest
    else:
        nearest = list(zip(ids or [], scores or [], strict=True))
        if version is not None and nearest:
            searches.keep(user_id, KeptSearch(inputs, version, details, songs, nearest))
    return HomeRead(
        list(genres),
        version,
        new_songs,
        songs,
        artists,
        has_long,
        has_short,
        details,
        nearest,
    )
