"""Every vector of one model version, for batch jobs that score whole catalogs on their
driver (the nightly mixes): the version's own table ``model.als_factors_<version>`` read in
one COPY, never the served view, so a job reads one version whatever is activated meanwhile.
Read-only.
"""

from __future__ import annotations

import numpy as np
from psycopg import sql

from recsys.model_registry.version_vectors import VersionGone
from recsys.model_registry.versions import factors_table


def version_factors(conn, version: int, kind: str) -> tuple[list[str], np.ndarray]:
    """(ids in id order, float32 matrix, a row per id) of the ``kind`` ('user' or 'item')
    vectors of ``version``; raises ``VersionGone`` when its table is no longer kept."""
    if kind not in ("user", "item"):
        raise ValueError(f"kind must be 'user' or 'item', not {kind!r}")
    exists = conn.execute(
        "select to_regclass(%s) is not null", (f"model.als_factors_{int(version)}",)
    ).fetchone()[0]
    if not exists:
        raise VersionGone(f"the vectors of model version {version} are no longer kept")
    statement = sql.SQL(
        "copy (select id, factors::text from {} where kind = {} order by id) to stdout"
    ).format(factors_table(version), sql.Literal(kind))
    ids: list[str] = []
    vectors: list[str] = []
    with conn.cursor().copy(statement) as copy:
        for key, text in copy.rows():
            ids.append(key)
            vectors.append(text[1:-1])
    if not ids:
        return ids, np.zeros((0, 0), dtype=np.float32)
    flat = np.array(",".join(vectors).split(","), dtype=np.float32)
    return ids, flat.reshape(len(ids), -1)
