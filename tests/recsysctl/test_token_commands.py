"""``recsysctl token`` issues tokens the web app accepts for exactly what they name, in a
subprocess against the test stack's settings; an admin token's issue is audited."""

from __future__ import annotations

import pytest

from recsys import audit, db
from recsys.identity.tokens import TokenConfig, TokenVerifier
from tests.recsysctl.test_audit_commands import ACTOR, recsysctl

pytestmark = pytest.mark.integration


def issued(*args: str) -> str:
    done = recsysctl("token", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_each_kind_of_token_says_who_and_what(postgres, settings):
    verify = TokenVerifier(TokenConfig.from_settings(settings)).verify
    listener = verify(issued("listener", "u00042", "--minutes", "5"))
    assert (listener.kind, listener.subject, listener.scopes) == ("listener", "u00042", frozenset())
    service = verify(issued("service", "importer", "--scope", "events:write:any"))
    assert (service.kind, service.subject) == ("service", "service:importer")
    assert service.scopes == {"events:write:any"}

    admin = verify(issued("admin", "dana", "--role", "operator"))
    assert (admin.kind, admin.role) == ("admin", "operator")
    with db.connect(postgres) as conn:
        (entry,) = audit.recent(conn, 1)
    assert (entry.actor, entry.action, entry.target) == (ACTOR, "token.issue", "admin:dana")
    assert entry.details == {"role": "operator", "days": 7}


def test_an_unknown_scope_or_role_is_refused_by_name(postgres):
    scope = recsysctl("token", "service", "x", "--scope", "everything")
    assert (
        scope.returncode == 2 and "everything" in scope.stderr and "Traceback" not in scope.stderr
    )
    role = recsysctl("token", "admin", "x", "--role", "root")
    assert role.returncode == 2 and "root" in role.stderr
