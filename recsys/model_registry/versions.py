"""ALS model versions in PostgreSQL: runs, their vectors, the active pointer, rollback, pruning.

A version's vectors live in a table of its own, ``model.als_factors_<version>`` (kind 'user'
or 'item', id, factors), with a partial HNSW index (inner product) over the item rows, written
completely before the version can be activated. Serving reads the one view
``model.active_factors``; activation moves the pointer and re-creates that view in one
transaction, so every reader sees one whole model. One view, not one per kind: a swap then
takes a single lock, and a reader joining users to items can never deadlock with it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import orjson
from psycopg import sql

# HNSW build parameters of the item factors' index (pgvector's defaults are m=16, ef_c=64).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128


class ModelNotFound(LookupError):
    """No such version."""


class NotActivatable(ValueError):
    """The version exists but may not be served (rejected, failed, running or pruned)."""


@dataclass(frozen=True)
class ModelVersion:
    version: int
    status: str
    window_start: date
    window_end: date
    holdout_start: date
    params: dict
    metrics: dict | None
    n_users: int | None
    n_items: int | None
    n_interactions: int | None
    n_holdout_users: int | None
    n_events: int | None
    reason: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    dag_run_id: str | None
    active: bool

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def factors_table(version: int) -> sql.Identifier:
    return sql.Identifier("model", f"als_factors_{int(version)}")


def hnsw_index_name(version: int) -> str:
    return f"als_factors_{int(version)}_items_hnsw"


def create_run(
    conn,
    window_start: date,
    window_end: date,
    holdout_start: date,
    params: dict,
    dag_run_id: str | None,
) -> int:
    """Record a run as started and return its version number (committed at once, so the
    admin page shows it while it trains)."""
    with conn.transaction():
        (version,) = conn.execute(
            "insert into model.als_runs"
            " (window_start, window_end, holdout_start, params, dag_run_id)"
            " values (%s, %s, %s, %s, %s) returning version",
            (window_start, window_end, holdout_start, orjson.dumps(params).decode(), dag_run_id),
        ).fetchone()
    return version


def finish_run(conn, version: int, status: str, reason: str | None = None, **fields) -> None:
    """Set a run's outcome and any of n_events, n_users, n_items, n_interactions,
    n_holdout_users, metrics, duration_s."""
    if "metrics" in fields:
        fields["metrics"] = orjson.dumps(fields["metrics"]).decode()
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(name)) for name in fields]
    conn.execute(
        sql.SQL(
            "update model.als_runs set status = %s, reason = %s, finished_at = now(){} "
            "where version = %s"
        ).format(sql.SQL("").join(sql.SQL(", ") + a for a in assignments)),
        (status, reason, *fields.values(), version),
    )


def run_of_dag_run(conn, dag_run_id: str) -> dict | None:
    """The newest training run the Airflow run ``dag_run_id`` recorded, as {version, status,
    reason}; None when it recorded none (yet)."""
    row = conn.execute(
        "select version, status, reason from model.als_runs where dag_run_id = %s"
        " order by version desc limit 1",
        (dag_run_id,),
    ).fetchone()
    return None if row is None else dict(zip(("version", "status", "reason"), row, strict=True))


def vector_text(kind: str, ids, matrix: np.ndarray) -> bytes:
    """COPY text rows ``kind<TAB>id<TAB>[f1,f2,...]`` (pgvector's input format)."""
    out = io.StringIO()
    for key, row in zip(ids, matrix.astype(np.float32), strict=True):
        out.write(f"{kind}\t{key}\t[{','.join(map(repr, row.tolist()))}]\n")
    return out.getvalue().encode()


def write_factors(conn, version: int, user_ids, users: np.ndarray, item_ids, items: np.ndarray):
    """Create and fill the version's factors table and its items' HNSW index (inner
    product). Run inside the caller's transaction."""
    table = factors_table(version)
    conn.execute(sql.SQL("drop table if exists {}").format(table))
    conn.execute(
        sql.SQL(
            "create table {} (kind text not null check (kind in ('user', 'item')),"
            " id text not null, factors vector({}) not null, primary key (kind, id))"
        ).format(table, sql.Literal(items.shape[1]))
    )
    copy_sql = sql.SQL("copy {} (kind, id, factors) from stdin").format(table)
    with conn.cursor().copy(copy_sql) as copy:
        copy.write(vector_text("user", user_ids, users))
        copy.write(vector_text("item", item_ids, items))
    conn.execute(
        sql.SQL(
            "create index {} on {} using hnsw (factors vector_ip_ops)"
            " with (m = {}, ef_construction = {}) where kind = 'item'"
        ).format(
            sql.Identifier(hnsw_index_name(version)),
            table,
            sql.Literal(HNSW_M),
            sql.Literal(HNSW_EF_CONSTRUCTION),
        )
    )
    conn.execute(sql.SQL("analyze {}").format(table))


# The active version as a scalar subquery, for statements that read it together with other
# rows in one snapshot (the listener and the version in one round trip).
ACTIVE_VERSION_SQL = "(select version from model.active_model)"
# The served model's holdout NDCG@10, as a scalar subquery (the /metrics scrape's one query).
ACTIVE_NDCG_SQL = (
    "(select (r.metrics -> 'model' ->> 'ndcg')::float8 from model.active_model a"
    " join model.als_runs r using (version))"
)


def active_version(conn) -> int | None:
    """The served version; None before any model was activated."""
    row = conn.execute(f"select {ACTIVE_VERSION_SQL}").fetchone()
    return row[0]


def hold_active_model(conn) -> None:
    """Keep the served model for the rest of the current transaction: an activation (which
    locks model.active_model in EXCLUSIVE mode before it swaps the view) waits until the
    transaction ends, so every read in it comes from one model. Readers do not block each
    other (ROW SHARE)."""
    conn.execute("lock table model.active_model in row share mode")


def active_metrics(conn) -> dict | None:
    """The offline metrics of the served model (its run's ``metrics -> 'model'``)."""
    row = conn.execute(
        "select r.metrics -> 'model' from model.active_model a"
        " join model.als_runs r using (version)"
    ).fetchone()
    return row[0] if row else None


def mark_passed(conn, version: int) -> None:
    """The run passed its gate and its vectors are written: it may be activated."""
    conn.execute("update model.als_runs set status = 'passed' where version = %s", (version,))


def get_version(conn, version: int) -> ModelVersion:
    versions = _versions(conn, "where r.version = %s", (version,))
    if not versions:
        raise ModelNotFound(f"no model version {version}")
    return versions[0]


def list_versions(conn, limit: int = 100) -> list[ModelVersion]:
    return _versions(conn, "order by r.version desc limit %s", (limit,))


def _versions(conn, tail: str, params: tuple) -> list[ModelVersion]:
    rows = conn.execute(
        "select r.version, r.status, r.window_start, r.window_end, r.holdout_start, r.params,"
        " r.metrics, r.n_users, r.n_items, r.n_interactions, r.n_holdout_users, r.n_events,"
        " r.reason, r.started_at, r.finished_at, r.duration_s, r.dag_run_id,"
        " a.version is not null"
        " from model.als_runs r left join model.active_model a using (version) " + tail,
        params,
    ).fetchall()
    return [ModelVersion(*row) for row in rows]


def activate(conn, version: int, by: str) -> None:
    """Serve ``version`` from now on. Only gate-passed versions whose vectors are still kept
    can be activated. The pointer and both views change in one transaction."""
    with conn.transaction():
        # one activation at a time; readers keep reading the old views until commit
        conn.execute("lock table model.active_model in exclusive mode")
        status = conn.execute(
            "select status from model.als_runs where version = %s", (version,)
        ).fetchone()
        if status is None:
            raise ModelNotFound(f"no model version {version}")
        if status[0] != "passed":
            raise NotActivatable(
                f"model version {version} is {status[0]}; only versions that passed the "
                "quality gate and were not pruned can be served"
            )
        # drop and create (not create or replace): the new version's rank may differ
        conn.execute("drop view if exists model.active_factors")
        conn.execute(
            sql.SQL(
                "create view model.active_factors as"
                " select {}::bigint as version, kind, id, factors from {}"
            ).format(sql.Literal(version), factors_table(version))
        )
        conn.execute(
            "insert into model.active_model (singleton, version, activated_at, activated_by)"
            " values (true, %s, now(), %s) on conflict (singleton) do update"
            " set version = excluded.version, activated_at = now(),"
            " activated_by = excluded.activated_by",
            (version, by),
        )


def deactivate(conn) -> None:
    """Serve no model: recommendations fall back to trending until a version is activated.
    ``model.active_factors`` stays, empty, as before the first training."""
    with conn.transaction():
        conn.execute("lock table model.active_model in exclusive mode")
        conn.execute("delete from model.active_model")
        conn.execute("drop view if exists model.active_factors")
        conn.execute(
            "create view model.active_factors as select null::bigint as version,"
            " null::text as kind, null::text as id, null::vector as factors where false"
        )


def prune(conn, keep: int) -> list[int]:
    """Drop the vectors of gate-passed versions beyond the ``keep`` newest (the active one is
    always kept, whatever its age, and so is every version an arm of a running experiment
    serves) and mark them pruned. Returns the pruned versions."""
    # the experiments' table has its own module; it imports this package
    from recsys.experiment_store import SERVED_VERSIONS_SQL

    with conn.transaction():
        # an experiment starting now checks its versions under the row-share lock: it waits
        conn.execute("lock table model.active_model in exclusive mode")
        active = active_version(conn)
        passed = [
            v
            for (v,) in conn.execute(
                "select version from model.als_runs where status = 'passed' order by version desc"
            ).fetchall()
        ]
        in_experiments = {v for (v,) in conn.execute(SERVED_VERSIONS_SQL).fetchall()}
        kept = set(passed[: max(keep, 1)]) | ({active} if active else set()) | in_experiments
        pruned = [v for v in passed if v not in kept]
        for version in pruned:
            conn.execute(sql.SQL("drop table if exists {}").format(factors_table(version)))
            conn.execute(
                "update model.als_runs set status = 'pruned' where version = %s", (version,)
            )
    return pruned
