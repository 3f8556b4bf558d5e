"""The audit trail of admin actions (``ops.audit_log``): who did what to which target, when,
through the API or the CLI, and how it ended.

``record`` appends one row inside the caller's transaction; ``recent`` reads the newest rows,
a page at a time (keyset on the id). ``audited`` wraps an action that changes the database so
that the action and its row commit together: an action is never done without its row, and a
failed one is never recorded as done. A failure is recorded too, after the action rolled
back, with its kind (``outcome``) and message: a refused activation or a conflicting
experiment is worth knowing about. Nothing here updates or deletes a row.

Reads and writes ops.audit_log.

>>> actor = Actor("cli:alice", "cli")
>>> # with audited(conn, actor, "model.activate", "7") as entry:
>>> #     registry.activate(conn, 7, by=actor.name)
>>> #     entry.details["previous"] = 6
"""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from psycopg import pq

log = logging.getLogger(__name__)

VIAS = ("api", "cli")
OK = "ok"
MAX_LIMIT = 200
_MAX_ERROR = 500  # characters of a failure's message kept in its details


@dataclass(frozen=True)
class Actor:
    """Who acts (``api:<address>``, ``cli:<OS user>``) and through what (``api``, ``cli``)."""

    name: str
    via: str

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the command line: their OS user."""
        return cls(f"cli:{getpass.getuser()}", "cli")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    via: str
    action: str
    target: str
    details: dict
    outcome: str

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "via": self.via,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "outcome": self.outcome,
        }


COLUMNS = "id, at, actor, via, action, target, details, outcome"


def record(
    conn,
    actor: str,
    via: str,
    action: str,
    target: str,
    details: dict | None = None,
    outcome: str = OK,
) -> int:
    """Append one row in the caller's transaction; its id."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {VIAS}, not {via!r}")
    (entry_id,) = conn.execute(
        "insert into ops.audit_log (actor, via, action, target, details, outcome)"
        " values (%s, %s, %s, %s, %s, %s) returning id",
        (actor, via, action, str(target), _json(details or {}), outcome),
    ).fetchone()
    return entry_id


def _json(details: dict) -> str:
    return orjson.dumps(details, default=str).decode()


def recent(conn, limit: int = 50, before_id: int | None = None) -> list[AuditEntry]:
    """The newest ``limit`` rows (at most MAX_LIMIT), newest first; with ``before_id``, those
    older than that row: the next page starts before the last id of this one."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = conn.execute(
        f"select {COLUMNS} from ops.audit_log"
        " where %(before)s::bigint is null or id < %(before)s::bigint"
        " order by id desc limit %(limit)s",
        {"before": before_id, "limit": limit},
    ).fetchall()
    return [AuditEntry(*row) for row in rows]


def outcome_of(err: BaseException) -> str:
    """A failure's kind, from its class: ModelNotFound -> model_not_found."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(err).__name__).lower()


@dataclass
class Attempt:
    """The row an ``audited`` action will write: the action may name its target once known,
    add details, or set a failure ``outcome`` for a refusal that raised nothing (its
    changes, if any, still commit: say so only when nothing changed)."""

    target: str
    details: dict = field(default_factory=dict)
    outcome: str = OK


@contextmanager
def audited(
    conn, actor: Actor, action: str, target, details: dict | None = None
) -> Iterator[Attempt]:
    """Run the block in one transaction with its audit row; on an exception, roll it back,
    record the failure in a transaction of its own, and re-raise.

    ``conn`` must be outside a transaction (autocommit, or idle), so that the block's
    transaction is a real one and the failure's row commits even though the block failed.
    """
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise RuntimeError("an audited action needs a connection outside a transaction")
    entry = Attempt(str(target), dict(details or {}))
    try:
        with conn.transaction():
            yield entry
            record(conn, actor.name, actor.via, action, entry.target, entry.details, entry.outcome)
    except Exception as err:
        _record_failure(conn, actor, action, entry, err)
        raise


def _record_failure(conn, actor: Actor, action: str, entry: Attempt, err: Exception) -> None:
    details = {**entry.details, "error": str(err)[:_MAX_ERROR]}
    try:
        with conn.transaction():
            record(conn, actor.name, actor.via, action, entry.target, details, outcome_of(err))
    except Exception:
        # the action's own error is the one to report (a database that failed it may be down)
        log.exception("could not record the failure of %s on %s", action, entry.target)
