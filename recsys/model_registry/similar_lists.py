"""Similar songs computed ahead: each served song's merged candidates (its nearest ALS items
and nearest lyrics, each with both exact scores), kept in ``model.similar_lists`` so that
GET /api/v1/songs/<id>/similar reads one row instead of searching two HNSW indexes
(docs/playlists.md#similar-songs).

``CANDIDATES_SQL`` is the one definition of a song's candidates: ``refresh`` runs it for
every served song, and the web app's search (webapp.services.similar_read) embeds it. A
stored list is read (``SERVED_RUN_SQL``) only while the served model version, the lyrics
vectors (``model.lyrics_version``, moved by a trigger on every change) and the search
settings (candidates per search, ``hnsw.ef_search``) are the ones it was computed under, so
it holds what a search would find; otherwise the web app searches as before.

``refresh`` (the similar_songs DAG, after a model goes live or lyrics are embedded) computes
under one (model version, lyrics version) pair, then publishes in one transaction only if
both are still current: a reader sees the earlier lists or the new ones, whole. A run
killed half-way is never served and is cleared by the next; a run for a pair that already
has complete lists does nothing.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from recsys import db
from recsys.model_registry.vectors import not_taken_down, search
from recsys.model_registry.versions import ACTIVE_VERSION_SQL
from recsys.settings import Settings

log = logging.getLogger(__name__)

LYRICS_VERSION_SQL = "(select version from model.lyrics_version)"

# The run whose lists are served now: complete, of the served model, the current lyrics and
# the search settings %(n)s (candidates per search) and %(ef)s (hnsw.ef_search).
SERVED_RUN_SQL = f"""(
    select r.id from model.similar_list_runs as r
    where r.status = 'complete' and r.model_version = {ACTIVE_VERSION_SQL}
      and r.lyrics_version = {LYRICS_VERSION_SQL}
      and r.candidate_pool = %(n)s and r.ef_search = %(ef)s
    order by r.id desc limit 1
)"""

# CTEs (after a WITH) of the song %(song)s's candidates, searched:
#   seed    its genre, whether it is taken down, its item and lyrics vectors (init plans);
#   search  whether to search: the seed is served;
#   merged  (id, als, lyrics): the candidates with both exact scores (null: no such vector).
# Each search runs only when ``go`` (a gating one-time filter: no index scan starts
# otherwise); the exact scores are those of recsys.model_registry.vectors's next-song merge.
CANDIDATES_SQL = f"""
    seed as materialized (
        select s.genre, s.taken_down_at is not null as down,
               (select factors from model.active_factors
                where kind = 'item' and id = %(song)s) as item,
               (select embedding from model.lyrics_embeddings where song_id = %(song)s) as lyrics
        from catalog.songs as s where s.id = %(song)s
    ),
    search as materialized (select not down as go from seed),
    als as materialized (
        select f.id, -(f.factors <#> (select item from seed)) as score
        from model.active_factors as f
        where f.kind = 'item' and (select go from search) and (select item from seed) is not null
          and f.id <> all(%(exclude)s) and {not_taken_down("f.id")}
        order by f.factors <#> (select item from seed) limit %(n)s
    ),
    lyrics as materialized (
        select l.song_id as id, 1 - (l.embedding <=> (select lyrics from seed)) as score
        from model.lyrics_embeddings as l
        where (select go from search) and (select lyrics from seed) is not null
          and l.song_id <> all(%(exclude)s) and {not_taken_down("l.song_id")}
        order by l.embedding <=> (select lyrics from seed) limit %(n)s
    ),
    merged as materialized (
        select c.id,
               coalesce(a.score, (select -(f.factors <#> (select item from seed))
                                  from model.active_factors as f
                                  where f.kind = 'item' and f.id = c.id)) as als,
               coalesce(y.score, (select 1 - (l.embedding <=> (select lyrics from seed))
                                  from model.lyrics_embeddings as l
                                  where l.song_id = c.id)) as lyrics
        from (select id from als union select id from lyrics) as c
        left join als as a on a.id = c.id
        left join lyrics as y on y.id = c.id
    )
"""

# One song's list, searched, written under the run's pair only (0 rows once either moved).
_COMPUTE_SQL = f"""
    with {CANDIDATES_SQL}
    insert into model.similar_lists (run_id, song_id, ids, als, lyrics)
    select %(run)s, %(song)s, coalesce(array_agg(m.id), '{{}}'),
           coalesce(array_agg(m.als), '{{}}'), coalesce(array_agg(m.lyrics), '{{}}')
    from merged as m
    having {ACTIVE_VERSION_SQL} = %(version)s and {LYRICS_VERSION_SQL} = %(lyrics_version)s
"""

# The served songs that have something to be similar by (the rest get their genre's
# trending songs, which need no search).
_SEEDS_SQL = """
    select s.id from catalog.songs as s
    where s.taken_down_at is null
      and (exists (select from model.active_factors as f where f.kind = 'item' and f.id = s.id)
           or exists (select from model.lyrics_embeddings as l where l.song_id = s.id))
    order by s.id
"""

# One refresh at a time (a session lock: held from the first look to the publication).
_LOCK_SQL = "select pg_advisory_lock(hashtext('model.similar_lists'))"
_UNLOCK_SQL = "select pg_advisory_unlock(hashtext('model.similar_lists'))"


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: ``status`` is complete (lists written and served), current
    (complete lists for the pair already existed: nothing done), stale (the model or the
    lyrics changed while it ran: nothing served; the change's own refresh follows) or
    no_model."""

    status: str
    run_id: int | None = None
    model_version: int | None = None
    lyrics_version: int | None = None
    songs: int = 0


def refresh(
    settings: Settings, dag_run_id: str | None = None, workers: int = 2, batch: int = 200
) -> Refreshed:
    """Compute and publish the similar-song lists of every served song under the served
    model and the current lyrics, unless complete lists for them exist."""
    pool, ef = settings.recs_candidate_pool, settings.hnsw_ef_search
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(_LOCK_SQL)
        try:
            # the served pair, and the run already serving lists for it, if any
            version, lyrics_version, done, songs = conn.execute(
                f"select {ACTIVE_VERSION_SQL}, {LYRICS_VERSION_SQL}, r.id, r.songs"
                f" from (select) as one left join model.similar_list_runs as r"
                f" on r.id = {SERVED_RUN_SQL}",
                {"n": pool, "ef": ef},
            ).fetchone()
            if version is None:
                return Refreshed("no_model", lyrics_version=lyrics_version)
            if done is not None:
                return Refreshed("current", done, version, lyrics_version, songs)
            # a run killed half-way (no refresh runs beside this one: the lock)
            conn.execute("delete from model.similar_list_runs where status = 'running'")
            run_id = start_run(conn, version, lyrics_version, pool, ef, dag_run_id)
            seeds = [r[0] for r in conn.execute(_SEEDS_SQL).fetchall()]
            params = {"run": run_id, "version": version, "lyrics_version": lyrics_version,
                      "n": pool}  # fmt: skip
            written = _compute(settings, seeds, params, workers, batch)
            return _publish(conn, run_id, version, lyrics_version, len(seeds), written)
        finally:
            conn.execute(_UNLOCK_SQL)


def served_pair(conn) -> tuple[int | None, int]:
    """(the served model version or None, the lyrics version) in one snapshot."""
    return conn.execute(f"select {ACTIVE_VERSION_SQL}, {LYRICS_VERSION_SQL}").fetchone()


def start_run(
    conn, version: int, lyrics_version: int, pool: int, ef: int, dag_run_id: str | None = None
) -> int:
    """A computation's row, running, under (``version``, ``lyrics_version``) and the search
    settings; returns its id."""
    return conn.execute(
        "insert into model.similar_list_runs (model_version, lyrics_version, candidate_pool,"
        " ef_search, dag_run_id) values (%s, %s, %s, %s, %s) returning id",
        (version, lyrics_version, pool, ef, dag_run_id),
    ).fetchone()[0]


def _compute(settings: Settings, seeds: list[str], params: dict, workers: int, batch: int) -> int:
    """Each seed's list written by ``workers`` connections, ``batch`` seeds a transaction;
    returns the rows written (fewer than the seeds once the model or lyrics moved)."""
    chunks = [seeds[i : i + batch] for i in range(0, len(seeds), batch)]
    local = threading.local()
    connections = []
    lock = threading.Lock()

    def connection():
        if getattr(local, "conn", None) is None:
            local.conn = db.connect(settings)
            local.conn.execute(
                "select set_config('hnsw.ef_search', %s, false),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', false)",
                (str(settings.hnsw_ef_search),),
            )
            local.conn.commit()
            with lock:
                connections.append(local.conn)
        return local.conn

    def write(chunk: list[str]) -> int:
        conn = connection()
        with conn.transaction():
            rows = 0
            for song in chunk:
                cursor = search(conn, _COMPUTE_SQL, {**params, "song": song, "exclude": [song]},
                                settings.hnsw_ef_search)  # fmt: skip
                rows += cursor.rowcount
        return rows

    try:
        with ThreadPoolExecutor(max(1, workers)) as executor:
            return sum(executor.map(write, chunks))
    finally:
        for conn in connections:
            conn.close()


def _publish(conn, run_id: int, version: int, lyrics_version: int, seeds: int, written: int):
    """Serve the run's lists if every seed has one and the pair is still current, removing
    the model version's earlier lists and those of versions no longer kept; else mark it
    stale and drop its rows."""
    # a pair that moves after this look leaves the lists unread: readers match the pair
    with conn.transaction():
        now = served_pair(conn)
        if written != seeds or now != (version, lyrics_version):
            conn.execute("delete from model.similar_lists where run_id = %s", (run_id,))
            conn.execute(
                "update model.similar_list_runs set status = 'stale', finished_at = now(),"
                " songs = %s, reason = %s where id = %s",
                (written, f"the served model or the lyrics moved to {now} while it ran", run_id),
            )
            log.info("similar lists of run %s are stale: served %s, computed under %s",
                     run_id, now, (version, lyrics_version))  # fmt: skip
            return Refreshed("stale", run_id, version, lyrics_version, written)
        conn.execute(
            "update model.similar_list_runs set status = 'complete', finished_at = now(),"
            " songs = %s where id = %s",
            (written, run_id),
        )
        # the version's earlier lists, and those of versions that cannot be served again
        conn.execute(
            "delete from model.similar_list_runs as r where r.id <> %s and"
            " (r.model_version = %s or not exists (select from model.als_runs as a"
            "  where a.version = r.model_version and a.status = 'passed'))",
            (run_id, version),
        )
    return Refreshed("complete", run_id, version, lyrics_version, written)
