"""The operator's tools as services of the web app: an HTTP session that carries a service
token with the scopes a tool needs (the simulator posts events for any listener and reads
their recommendations), minted with the deployment's own RECSYS_AUTH_SECRET. In open mode
(RECSYS_AUTH_MODE=open) no token is needed and none is sent.

``recsysctl token`` issues tokens by hand (docs/security.md):

    python -m recsysctl token listener USER_ID            # curl as that listener
    python -m recsysctl token service importer --scope events:write:any
    python -m recsysctl token admin dana --role operator  # recorded in the audit trail
"""

from __future__ import annotations

import requests

from recsys.identity.principal import ROLES, SCOPES
from recsys.identity.tokens import TokenConfig, TokenIssuer
from recsys.settings import Settings, load_settings, require

# A tool's run may last days (a long simulation); the token outlives it.
SERVICE_TOKEN_S = 7 * 24 * 3600


def service_token(settings: Settings, name: str, scopes: list[str]) -> str:
    return TokenIssuer(TokenConfig.from_settings(settings)).service(name, scopes, SERVICE_TOKEN_S)


def service_session(settings: Settings, name: str, scopes: list[str]) -> requests.Session:
    session = requests.Session()
    if settings.auth_mode == "token":
        session.headers["Authorization"] = f"Bearer {service_token(settings, name, scopes)}"
    return session


# --- recsysctl token ------------------------------------------------------------------------


def add_token(sub) -> None:
    parser = sub.add_parser(
        "token", help="issue a bearer token: a listener's, a service's or an admin's"
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    listener = kinds.add_parser("listener", help="a listener's token (curl as that listener)")
    listener.add_argument("user_id")
    listener.add_argument(
        "--minutes", type=int, help="lifetime (default RECSYS_AUTH_TOKEN_MINUTES)"
    )
    service = kinds.add_parser("service", help="a service's token with explicit scopes")
    service.add_argument("name", help="who it is for, e.g. importer (its subject is service:NAME)")
    service.add_argument(
        "--scope", action="append", required=True, choices=sorted(SCOPES), dest="scopes"
    )
    service.add_argument("--days", type=int, default=30, help="lifetime in days (default 30)")
    admin = kinds.add_parser("admin", help="an admin's or operator's token (audited)")
    admin.add_argument("name", help="who it is for; the audit trail records jwt:admin:NAME")
    admin.add_argument("--role", choices=ROLES, required=True)
    admin.add_argument("--days", type=int, default=7, help="lifetime in days (default 7)")


def cmd_token(args) -> int:
    from recsys import audit, db

    settings = load_settings()
    require(settings, "auth_secret")
    issuer = TokenIssuer(TokenConfig.from_settings(settings))
    if args.kind == "listener":
        token = issuer.listener(args.user_id, args.minutes * 60 if args.minutes else None)
    elif args.kind == "service":
        token = issuer.service(args.name, args.scopes, args.days * 86400)
    else:
        token = issuer.admin(args.name, args.role, args.days * 86400)
        actor = audit.Actor.cli()
        with db.connect(settings) as conn:
            audit.record(
                conn,
                actor.name,
                actor.via,
                "token.issue",
                f"admin:{args.name}",
                {"role": args.role, "days": args.days},
            )
    print(token)
    return 0
