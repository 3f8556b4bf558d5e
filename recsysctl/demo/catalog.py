"""Loading a demo world into the warehouse catalog.

Reads a ``World`` (``recsysctl.demo.world``); upserts its rows into ``catalog.artists``,
``catalog.songs`` and ``catalog.users`` through a psycopg 3 connection.
"""

from __future__ import annotations

from psycopg import sql

from recsysctl.demo.world import CATALOG_FILES, World

CATALOG_COLUMNS = {
    "artists": ("id", "name", "genre"),
    "songs": (
        "id",
        "title",
        "artist_id",
        "album",
        "genre",
        "duration_s",
        "release_date",
        "image_url",
        "audio_url",
        "lyrics",
    ),
    "users": ("id", "display_name", "country", "onboarding_genres"),
}


def _upsert(cur, table: str, rows: list[dict]) -> int:
    """COPY rows into a temporary table, then upsert only the rows that changed."""
    columns = CATALOG_COLUMNS[table]
    staging = sql.Identifier(f"demo_{table}")
    target = sql.Identifier("catalog", table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur.execute(sql.SQL("drop table if exists pg_temp.{}").format(staging))
    cur.execute(
        sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
            staging, target
        )
    )
    with cur.copy(sql.SQL("copy {} ({}) from stdin").format(staging, names)) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
    updated = columns[1:]
    assignments = [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updated]
    if table == "songs":
        assignments.append(sql.SQL("updated_at = now()"))
    # Unchanged rows are left alone, so a reload leaves updated_at (and the WAL) quiet.
    cur.execute(
        sql.SQL(
            "insert into {target} as existing ({names}) select {names} from {staging} "
            "on conflict (id) do update set {assignments} "
            "where ({current}) is distinct from ({incoming})"
        ).format(
            target=target,
            names=names,
            staging=staging,
            assignments=sql.SQL(", ").join(assignments),
            current=sql.SQL(", ").join(sql.Identifier("existing", c) for c in updated),
            incoming=sql.SQL(", ").join(sql.Identifier("excluded", c) for c in updated),
        )
    )
    return cur.rowcount


def load_catalog(conn, world: World) -> dict[str, int]:
    """Upsert the world's artists, songs and users into the catalog, in one transaction.

    Idempotent; play counters (``plays_cumulative``, ``plays_7d``) are never touched.

    Parameters
    ----------
    conn : psycopg.Connection
        A psycopg 3 connection to the warehouse.

    Returns
    -------
    dict
        Rows inserted or changed per table.
    """
    changed = {}
    with conn.transaction(), conn.cursor() as cur:
        for table in CATALOG_FILES:  # artists first: songs reference them
            changed[table] = _upsert(cur, table, getattr(world, table))
    return changed
