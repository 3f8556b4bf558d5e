"""Warehouse database access shared by every process: connections, bulk COPY of Arrow
tables (the jobs' writers), and migrations.

Migrations are the numbered SQL files in ``sql/migrations``, applied in order by yoyo
(forward only; yoyo records what it applied in its own tables).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from recsys.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    import pyarrow as pa

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
VIEWS_DIR = PROJECT_ROOT / "sql" / "views"


def connect(settings: Settings, **kwargs) -> psycopg.Connection:
    return psycopg.connect(settings.postgres_dsn, connect_timeout=5, **kwargs)


def csv_bytes(table: pa.Table) -> bytes:
    """``table``'s rows as CSV without a header, in its column order: ``copy_rows``' input."""
    # Imported here: only the jobs' writers COPY, the web app never loads pyarrow for it.
    import pyarrow.csv as pa_csv

    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def copy_rows(conn, table: str, columns: str, data: bytes) -> None:
    """COPY CSV rows ``data`` (``csv_bytes``) into ``table`` (``columns``, comma-separated,
    in the rows' order), inside the caller's transaction."""
    with conn.cursor().copy(f"copy {table} ({columns}) from stdin (format csv)") as copy:
        copy.write(data)


def migrate(settings: Settings) -> list[str]:
    """Apply every pending migration, then re-create the analyst views and the analyst login.

    The views are the files of ``sql/views``, one view each, run in file-name order (a view
    that reads another is numbered after it) on every call, so a view edit needs no
    migration. They run in one transaction under yoyo's lock: a failing file leaves every
    view as it was, and two migrate runs never interleave.

    Returns the ids of the migrations applied now (empty when up to date).
    """
    backend = get_backend(settings.postgres_dsn.replace("postgresql://", "postgresql+psycopg://"))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations_only(pending)
        with connect(settings) as conn:  # commits on leaving, rolls back on an error
            for view_file in sorted(VIEWS_DIR.glob("*.sql")):
                conn.execute(view_file.read_text())
    if settings.analyst_password:
        ensure_analyst_login(settings)
    return [m.id for m in pending]


def ensure_analyst_login(settings: Settings) -> None:
    """The analyst login from the settings, a member of the read-only ``analyst`` role."""
    user, password = settings.analyst_user, settings.analyst_password
    with connect(settings, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (user,)).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(
            sql.SQL(verb + " role {} login password {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("grant analyst to {}").format(sql.Identifier(user)))
        conn.execute(
            sql.SQL("alter role {} set default_transaction_read_only = on").format(
                sql.Identifier(user)
            )
        )


def ensure_databases(settings: Settings) -> None:
    """Create the warehouse's and Airflow's databases on the server when missing."""
    with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as conn:
        for name in (settings.postgres_db, settings.airflow_db):
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,))
            if not exists.fetchone():
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
