"""A throwaway stack: settings for every service on free ports under one temporary folder.

The test session and the benchmarks run against one of these, so they never touch (or
count into) the developer's ``make up`` stack. Jars and the venv still come from the shared
cache.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


def free_port_pair() -> int:
    """A port p with p and p + 1 free (Kafka's broker and controller listeners)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


def isolated_environment(base: Path) -> dict[str, str]:
    """RECSYS_* variables for a complete stack living under ``base``."""
    return {
        "RECSYS_ENV_FILE": str(base / "no.env"),
        "RECSYS_STATE_DIR": str(base / "state"),
        "RECSYS_LAKE_URI": str(base / "lake"),
        "RECSYS_CHECKPOINT_URI": str(base / "checkpoints"),
        "RECSYS_POSTGRES_PORT": str(free_port_pair()),
        "RECSYS_POSTGRES_PASSWORD": secrets.token_urlsafe(12),
        "RECSYS_REDIS_URL": f"redis://127.0.0.1:{free_port_pair()}/0",
        "RECSYS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port_pair()}",
        "RECSYS_AIRFLOW_PORT": str(free_port_pair()),
        "RECSYS_AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "RECSYS_AIRFLOW_SECRET_KEY": secrets.token_urlsafe(24),
        "RECSYS_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "RECSYS_AUTH_SECRET": secrets.token_urlsafe(48),
        "RECSYS_AUTH_DEMO_SIGNIN": "true",
        "RECSYS_ANALYST_PASSWORD": secrets.token_urlsafe(12),
        "RECSYS_WEBAPP_PORT": str(free_port_pair()),
        # Tests and benchmarks send many listeners' traffic from one address; the rate
        # limits have their own test (tests/webapp/test_rate_limits.py).
        "RECSYS_RATE_LIMIT_EVENTS_PER_S": "0",
        "RECSYS_RATE_LIMIT_RECS_PER_S": "0",
        "RECSYS_RATE_LIMIT_SIGNIN_PER_S": "0",
    }


def stop_all(settings) -> None:
    """Stop every service of the stack, reporting (not raising) failures."""
    from recsysctl.stack.services import services

    for service in reversed(services(settings)):
        try:
            service.module.stop(settings)
        except Exception as err:  # keep stopping the others
            print(f"stopping {service.name} failed: {err}")
