"""Warehouse database access shared by every process: connections and migrations.

Migrations are the numbered SQL files in ``sql/migrations``, applied in order by yoyo
(forward only; yoyo records what it applied in its own tables).
"""

from __future__ import annotations

import psycopg
from yoyo import get_backend, read_migrations

from recsys.settings import PROJECT_ROOT, Settings

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"


def connect(settings: Settings, **kwargs) -> psycopg.Connection:
    return psycopg.connect(settings.postgres_dsn, connect_timeout=5, **kwargs)


def migrate(settings: Settings) -> list[str]:
    """Apply every pending migration; returns the ids applied now (empty when up to date)."""
    backend = get_backend(settings.postgres_dsn.replace("postgresql://", "postgresql+psycopg://"))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]
