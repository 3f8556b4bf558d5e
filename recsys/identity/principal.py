"""The caller of a request: a listener, a service, an admin, or anyone (open mode)."""

from __future__ import annotations

from dataclasses import dataclass

# What a service token may do beyond acting as one listener: "<resource>:<verb>:any".
SCOPES = {
    "events:write:any": "post events for any listener (the simulator, importers, benchmarks)",
    "recs:read:any": "read any listener's recommendations",
    "users:read:any": "read any listener's profile, likes and dislikes, and list listeners",
    "users:write:any": "create listeners and change any listener's genres",
    "playlists:read:any": "read any listener's playlists, private ones too",
    "playlists:write:any": "change any listener's playlists",
}
ROLES = ("admin", "operator")  # operator: reads runs, models and metrics; changes nothing


@dataclass(frozen=True)
class Principal:
    """``subject`` is the listener's id for a listener, ``service:<name>`` for a service, the
    token's name for an admin; ``via`` says what proved it (own, idp, admin_token, open)."""

    subject: str
    kind: str  # listener | service | admin | anyone
    via: str
    scopes: frozenset[str] = frozenset()
    role: str | None = None

    def may_act_for(self, user_id: str, scope: str) -> bool:
        """Whether the caller may act as listener ``user_id`` where ``scope`` would let a
        service act for anyone."""
        if self.kind == "anyone":
            return True
        if self.kind == "listener":
            return self.subject == user_id
        return scope in self.scopes

    def has_role(self, role: str) -> bool:
        """admin holds every role; operator only its own."""
        return self.role == "admin" or (self.role is not None and self.role == role)

    @property
    def audit_name(self) -> str:
        """Who the audit trail records."""
        prefix = {"admin_token": "token", "own": "jwt", "idp": "idp"}.get(self.via, self.via)
        return f"{prefix}:{self.subject}"


ANYONE = Principal("anyone", "anyone", "open", frozenset(SCOPES))
