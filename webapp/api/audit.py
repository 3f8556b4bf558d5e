"""The audit trail of admin actions: GET /admin/audit, newest first, a page at a time; and
``actor()``, who the admin endpoints record as acting (recsys.audit). Reads ops.audit_log."""

from __future__ import annotations

from flask import g, jsonify
from pydantic import BaseModel

from recsys import audit
from webapp.api import api
from webapp.api.auth import caller, operator_allowed
from webapp.api.params import int_param, operation
from webapp.resources import resources


def actor() -> audit.Actor:
    """The admin (``token:<name>`` for an admin token, ``jwt:<subject>`` or ``idp:<subject>``
    for a JWT with a role) and the address it called from (``g.admin``)."""
    return audit.Actor(f"api:{g.admin}", "api")


class AuditPage(BaseModel):
    limit: int_param(1, audit.MAX_LIMIT, 50)
    before: int_param(1, 2**63 - 1, None)


@api.get("/admin/audit")
@operator_allowed
@operation(
    "Admin actions (retrain, embed, activate, takedown, restore, experiment start and stop):"
    " who, through what, when, on what, and how it ended; newest first.",
    query=AuditPage,
    answers={200: "The entries, and next: the query of the older page (null on the last one)."},
    description="Page with before=<the last id of a page>: entries older than it. outcome is"
    " ok, or the kind of error that stopped the action (nothing was changed then).",
)
def audit_log(query: AuditPage):
    with resources().pool.connection() as conn:
        entries = audit.recent(conn, query.limit, query.before)
    more = len(entries) == query.limit
    return jsonify(
        {
            "entries": [e.as_dict() for e in entries],
            "next": f"?limit={query.limit}&before={entries[-1].id}" if more and entries else None,
        }
    )


@api.get("/admin/me")
@operator_allowed
@operation(
    "Who the admin credential names and its role (the admin page shows it, and hides what"
    " the role may not do).",
    answers={200: "{name, role, via}: role admin or operator; via admin_token, own or idp."},
)
def admin_me():
    who = caller()
    return jsonify({"name": who.subject, "role": who.role, "via": who.via})
