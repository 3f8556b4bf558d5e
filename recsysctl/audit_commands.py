"""The operator's view of the audit trail, registered by ``recsysctl.cli``:

    python -m recsysctl audit [--limit N] [--before ID]

The latest admin actions, newest first, one a line: when (UTC), who, through what, the
action, its target and how it ended (ok, or the error's kind); ``--before`` pages back from
an id. The same entries as GET /api/v1/admin/audit and the admin page. Reads ops.audit_log.
"""

from __future__ import annotations

from datetime import UTC

from recsys.settings import load_settings


def add_audit(sub) -> None:
    parser = sub.add_parser("audit", help="the latest admin actions: who, what, when, outcome")
    parser.add_argument("--limit", type=int, default=20, help="how many (at most 200)")
    parser.add_argument("--before", type=int, metavar="ID", help="only actions older than ID")


def cmd_audit(args) -> int:
    from recsys import audit, db

    with db.connect(load_settings(), autocommit=True) as conn:
        entries = audit.recent(conn, args.limit, args.before)
    print_entries(entries)
    return 0


def print_entries(entries) -> None:
    if not entries:
        print("no admin actions recorded")
        return
    print(f"{'id':>6}  {'at (UTC)':19}  {'who':24} {'action':18} {'target':40} outcome")
    for e in entries:
        at = e.at.astimezone(UTC)
        print(f"{e.id:>6}  {at:%Y-%m-%d %H:%M:%S}  {e.actor:24} {e.action:18} {e.target:40}"
              f" {e.outcome}")  # fmt: skip
