"""Reading one named model version's vectors, served or not: for an experiment arm that
serves a version other than the active one (recsys.experiment_store checks that it passed
its gate; ``versions.prune`` keeps it while the experiment runs).

The version's own table ``model.als_factors_<version>`` and its HNSW index over the items
are read, never ``model.active_factors``; taken-down songs are left out as in ``vectors``.
A version whose table is gone (pruned by hand) raises ``VersionGone``. Read-only.
"""

from __future__ import annotations

import numpy as np
import psycopg
from psycopg import sql

from recsys.model_registry.vectors import _nearest, not_taken_down, parse_vector, vector_literal
from recsys.model_registry.versions import factors_table


class VersionGone(LookupError):
    """The version's vectors are no longer kept."""


def _execute(conn, query, params):
    try:
        return conn.execute(query, params).fetchall()
    except psycopg.errors.UndefinedTable as err:
        raise VersionGone(str(err)) from None


def listener_vectors(
    conn, version: int, user_id: str, song_ids: list[str]
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """(the listener's user vector, or None if the version does not know them; {song: item
    vector} of the ``song_ids`` it knows), in one round trip."""
    rows = _execute(
        conn,
        sql.SQL(
            "select kind, id, factors::text from {} where (kind = 'user' and id = %s)"
            " or (kind = 'item' and id = any(%s))"
        ).format(factors_table(version)),
        (user_id, list(song_ids)),
    )
    user = next((parse_vector(r[2]) for r in rows if r[0] == "user"), None)
    return user, {r[1]: parse_vector(r[2]) for r in rows if r[0] == "item"}


def nearest_items(
    conn, version: int, query: np.ndarray, exclude: list[str], candidates: int, ef_search: int
) -> list[tuple[str, float]]:
    """Songs whose item vectors of ``version`` have the largest inner product with ``query``
    (through that version's HNSW index), as ``vectors.nearest_items`` does for the active
    model."""
    statement = sql.SQL(
        "select f.id, -(f.factors <#> %(q)s::vector) from {} as f"
        " where f.kind = 'item' and f.id <> all(%(exclude)s)"
        f" and {not_taken_down('f.id')}"
        " order by f.factors <#> %(q)s::vector limit %(n)s"
    ).format(factors_table(version))
    params = {"q": vector_literal(query), "exclude": exclude, "n": candidates}
    try:
        return _nearest(conn, statement, params, ef_search)
    except psycopg.errors.UndefinedTable as err:
        raise VersionGone(str(err)) from None
