"""What the history import's end-to-end tests share: throwaway warehouses (a database of
their own on the session's PostgreSQL, a lake folder of their own, the sample catalog
loaded), the import run as the operator runs it (a subprocess, optionally killed with
SIGKILL at a chosen point), and the lake and tables read back for comparison."""

from __future__ import annotations

import csv
import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from recsys import db
from recsys.lake import imported_events_path
from recsys.settings import PROJECT_ROOT

CATALOG_SAMPLE = PROJECT_ROOT / "data" / "samples" / "catalog" / "catalog.csv"
HISTORY = PROJECT_ROOT / "data" / "samples" / "history"


def sample_catalog() -> list[dict]:
    with open(CATALOG_SAMPLE, newline="") as f:
        return list(csv.DictReader(f))


def fresh_warehouse(settings, name: str, lake: Path):
    """Settings of a new, migrated database ``hist_<name>`` holding the sample catalog,
    with its own (empty) lake folder."""
    warehouse = dataclasses.replace(settings, postgres_db=f"hist_{name}", lake_uri=str(lake))
    with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(warehouse.postgres_db)
            )
        )
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(warehouse.postgres_db)))
    db.migrate(warehouse)
    with db.connect(warehouse) as conn:
        for row in sample_catalog():
            genre = row["genres"].split("|")[0]
            conn.execute(
                "insert into catalog.artists (id, name, genre) values (%s, %s, %s)"
                " on conflict do nothing",
                (row["artist_id"], row["artist"], genre),
            )
            conn.execute(
                "insert into catalog.songs (id, title, artist_id, genre, duration_s, mbid,"
                " spotify_uri) values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    row["song_id"],
                    row["title"],
                    row["artist_id"],
                    genre,
                    int(row["duration_s"]),
                    row["mbid"] or None,
                    row["spotify_uri"] or None,
                ),
            )
    return warehouse


def environment(warehouse) -> dict[str, str]:
    return {
        **os.environ,
        "RECSYS_POSTGRES_DB": warehouse.postgres_db,
        "RECSYS_LAKE_URI": warehouse.lake_uri,
    }


# Runs the CLI in this process, with the parallel path forced (2 workers) and, per
# KILL_AFTER_RENAMES, a SIGKILL of itself after that many files were published.
_KILLABLE = """
import os, signal, sys
from recsys.importers import history
history.PARALLEL_MIN_BYTES = 0
history.workers_for = lambda path, fmt: 2
after = int(os.environ.get("KILL_AFTER_RENAMES", "-1"))
real_publish = history.publish
def publish(staged):
    for done, (staged_file, published) in enumerate(staged.files):
        if done == after:
            os.kill(os.getpid(), signal.SIGKILL)
        published.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged_file, published)
history.publish = publish
sys.argv = ["recsysctl", *sys.argv[1:]]
from recsysctl.cli import main
main()
"""


def run_import(warehouse, *args: str, kill_after_renames: int | None = None):
    """``python -m recsysctl import history ARGS`` against ``warehouse``: the completed
    process (killed ones included)."""
    env = environment(warehouse)
    if kill_after_renames is None:
        command = [sys.executable, "-m", "recsysctl", "import", "history", *args, "--no-progress"]
    else:
        env["KILL_AFTER_RENAMES"] = str(kill_after_renames)
        command = [sys.executable, "-c", _KILLABLE, "import", "history", *args, "--no-progress"]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def start_import(warehouse, *args: str) -> subprocess.Popen:
    """The killable import started (parallel path), not waited for."""
    command = [sys.executable, "-c", _KILLABLE, "import", "history", *args, "--no-progress"]
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment(warehouse),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def kill_hard(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def lake_files(warehouse) -> dict[str, list[tuple]]:
    """{date=D/file name: rows (kafka_timestamp aside), in file order} of the imports."""
    folder = Path(imported_events_path(warehouse.lake_uri))
    found = {}
    for path in sorted(folder.glob("date=*/*.parquet")):
        table = pq.read_table(path).drop_columns(["kafka_timestamp"])
        found[f"{path.parent.name}/{path.name}"] = [tuple(r.values()) for r in table.to_pylist()]
    return found


def commit_times(warehouse) -> set:
    folder = Path(imported_events_path(warehouse.lake_uri))
    return {
        t
        for path in folder.glob("date=*/*.parquet")
        for t in pq.read_table(path, columns=["kafka_timestamp"])["kafka_timestamp"].to_pylist()
    }


def rows_of(warehouse, query: str, params=()) -> list[tuple]:
    with db.connect(warehouse) as conn:
        return conn.execute(query, params).fetchall()
