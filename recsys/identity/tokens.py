"""Bearer tokens: the JWTs this app issues and the checks every token passes.

Ours are HS256, signed with ``RECSYS_AUTH_SECRET``, issued by ``RECSYS_AUTH_ISSUER`` for
``RECSYS_AUTH_AUDIENCE``: a listener's (subject: the listener's id), a service's (subject
``service:<name>``, a ``scope`` of SCOPES) and an admin's (a ``role`` claim). An identity
provider's are RS256 or ES256, verified against its JWKS (recsys.identity.jwks).

A token's issuer picks its verifier, and each verifier takes only its own algorithms: a
token that claims our issuer but is RS256, or the provider's but HS256 (the HS/RS confusion),
fails the ``algorithm`` check, as does ``alg: none``. Every failure is a TokenRejected naming
the check (CHECKS) and never quoting the token.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from joserfc import errors, jws, jwt
from joserfc.jwk import OctKey

from recsys.identity.jwks import JwksKeys, JwksUnavailable, UnknownKey
from recsys.identity.principal import ROLES, SCOPES, Principal

OWN_ALGORITHM = "HS256"
CHECKS = {
    "missing": "no bearer token",
    "malformed": "the token is not a JWT",
    "algorithm": "the token's algorithm is not accepted for its issuer",
    "issuer": "the token's issuer is not trusted",
    "unknown_key": "the identity provider's keys hold no key with the token's kid",
    "signature": "the token's signature does not verify",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet (nbf or iat in the future)",
    "audience": "the token is not for this API (aud)",
    "claims": "the token lacks a claim it needs, or one has a wrong value",
}


# The token's algorithm is not the one asked for, or not one its key's type signs with.
WRONG_ALGORITHM = (
    errors.UnsupportedAlgorithmError,
    errors.MissingAlgorithmError,
    errors.ConflictAlgorithmError,
    errors.UnsupportedKeyAlgorithmError,
    errors.InvalidKeyTypeError,
    errors.InvalidKeyCurveError,
)


class TokenRejected(Exception):
    """A token failed ``check`` (a key of CHECKS); ``detail`` says how, never quoting it."""

    def __init__(self, check: str, detail: str | None = None):
        self.check = check
        self.detail = detail or CHECKS[check]
        super().__init__(self.detail)


class IdentityProviderUnavailable(Exception):
    """The identity provider's JWKS could not be fetched (the token may well be good)."""


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    issuer: str
    audience: str
    lifetime_s: int
    leeway_s: int
    jwks_url: str = ""
    jwks_issuer: str = ""
    jwks_algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_refresh_s: int = 300
    subject_claim: str = "sub"
    role_claim: str = "role"

    @classmethod
    def from_settings(cls, settings) -> TokenConfig:
        return cls(
            secret=settings.auth_secret or "",
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            lifetime_s=settings.auth_token_minutes * 60,
            leeway_s=settings.auth_clock_skew_s,
            jwks_url=settings.auth_jwks_url,
            jwks_issuer=settings.auth_jwks_issuer,
            jwks_algorithms=tuple(
                a.strip() for a in settings.auth_jwks_algorithms.split(",") if a.strip()
            ),
            jwks_refresh_s=settings.auth_jwks_refresh_s,
            subject_claim=settings.auth_subject_claim,
            role_claim=settings.auth_role_claim,
        )


class TokenIssuer:
    """Issues our HS256 tokens."""

    def __init__(self, config: TokenConfig, clock=time.time):
        if not config.secret:
            raise ValueError("RECSYS_AUTH_SECRET is not set: run `make up` or export it")
        self.config = config
        self._key = OctKey.import_key(config.secret)
        self._clock = clock

    def _issue(self, subject: str, lifetime_s: int | None, **claims) -> str:
        now = int(self._clock())
        payload = {
            "iss": self.config.issuer,
            "aud": self.config.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + (lifetime_s or self.config.lifetime_s),
            "jti": str(uuid.uuid4()),
            **claims,
        }
        return jwt.encode({"alg": OWN_ALGORITHM}, payload, self._key)

    def listener(self, user_id: str, lifetime_s: int | None = None) -> str:
        return self._issue(user_id, lifetime_s)

    def service(self, name: str, scopes: list[str], lifetime_s: int | None = None) -> str:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ValueError(f"unknown scopes {unknown}; known: {', '.join(SCOPES)}")
        return self._issue(f"service:{name}", lifetime_s, scope=" ".join(sorted(set(scopes))))

    def admin(self, name: str, role: str, lifetime_s: int | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        return self._issue(f"admin:{name}", lifetime_s, role=role)


def _read(token: str) -> tuple[jws.CompactSignature, dict, dict]:
    """The token split and decoded once (joserfc, strict base64url), its header and claims
    not yet trusted: they choose the verifier, which then checks the signature and claims."""
    try:
        signed = jws.extract_compact(token.encode())
        claims = json.loads(signed.payload)
    except (errors.JoseError, ValueError, UnicodeError):
        raise TokenRejected("malformed") from None
    if not isinstance(claims, dict):
        raise TokenRejected("malformed")
    return signed, signed.headers(), claims


def _registry(config: TokenConfig, issuer: str, subject_claim: str) -> jwt.JWTClaimsRegistry:
    """The claims every token of ``issuer`` must carry, and their checks (exp, nbf and iat
    with the configured clock skew)."""
    return jwt.JWTClaimsRegistry(
        leeway=config.leeway_s,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": config.audience},
        exp={"essential": True},
        **{subject_claim: {"essential": True}},
    )


def _claim_rejected(claim: str, claims: dict) -> TokenRejected:
    if claim in ("nbf", "iat") and isinstance(claims.get(claim), int | float):
        return TokenRejected("not_yet_valid")
    if claim == "aud":
        return TokenRejected("audience")
    if claim == "iss":
        return TokenRejected("issuer")
    return TokenRejected("claims", f"the {claim!r} claim has a wrong value or type")


def _roles(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class TokenVerifier:
    """Checks a bearer token and says who it names (a Principal), or why not."""

    def __init__(self, config: TokenConfig, jwks: JwksKeys | None = None):
        self.config = config
        self._own_key = OctKey.import_key(config.secret) if config.secret else None
        self._own_registry = _registry(config, config.issuer, "sub")
        self._provider_registry = _registry(config, config.jwks_issuer, config.subject_claim)
        self._signatures: dict[str, jws.JWSRegistry] = {}  # per algorithm
        self._jwks = jwks
        if self._jwks is None and config.jwks_url:
            self._jwks = JwksKeys(config.jwks_url, config.jwks_refresh_s)

    def verify(self, token: str) -> Principal:
        signed, header, unverified = _read(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise TokenRejected("algorithm", "unsigned tokens (alg none) are refused")
        issuer = unverified.get("iss")
        if self.config.secret and issuer == self.config.issuer:
            return self._own(signed, unverified, algorithm)
        if self._jwks is not None and issuer == self.config.jwks_issuer:
            return self._provider(signed, unverified, header, algorithm)
        raise TokenRejected("issuer")

    def _claims(self, signed, claims: dict, key, algorithm: str, registry) -> dict:
        """``claims`` once the signature and ``registry``'s checks pass."""
        if algorithm not in self._signatures:
            self._signatures[algorithm] = jws.JWSRegistry(algorithms=[algorithm])
        try:
            verified = jws.validate_compact(signed, key, registry=self._signatures[algorithm])
        except WRONG_ALGORITHM:
            raise TokenRejected("algorithm") from None
        except errors.JoseError as err:  # a header it cannot use (crit, ...)
            raise TokenRejected("malformed", f"the token is invalid: {err.error}") from None
        if not verified:
            raise TokenRejected("signature")
        try:
            registry.validate(claims)
        except errors.ExpiredTokenError:
            raise TokenRejected("expired") from None
        except errors.MissingClaimError as err:
            raise TokenRejected("claims", f"the token has no {err.claim!r} claim") from None
        except errors.InvalidClaimError as err:
            raise _claim_rejected(err.claim, claims) from None
        return claims

    def _own(self, signed, claims: dict, algorithm: str) -> Principal:
        if algorithm != OWN_ALGORITHM:
            raise TokenRejected("algorithm", f"this app's tokens are {OWN_ALGORITHM} only")
        claims = self._claims(signed, claims, self._own_key, algorithm, self._own_registry)
        return _principal(claims, "sub", "role", "own")

    def _provider(self, signed, claims: dict, header: dict, algorithm: str) -> Principal:
        if algorithm not in self.config.jwks_algorithms:
            accepted = ", ".join(self.config.jwks_algorithms)
            raise TokenRejected("algorithm", f"the identity provider's tokens are {accepted}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("unknown_key", "the token names no key (kid)")
        try:
            key = self._jwks.key(kid)
        except UnknownKey:
            raise TokenRejected("unknown_key") from None
        except JwksUnavailable as err:
            raise IdentityProviderUnavailable(str(err)) from None
        if key.alg is not None and key.alg != algorithm:
            raise TokenRejected("algorithm", "the key the token names is for another algorithm")
        claims = self._claims(signed, claims, key, algorithm, self._provider_registry)
        return _principal(claims, self.config.subject_claim, self.config.role_claim, "idp")


def _principal(claims: dict, subject_claim: str, role_claim: str, via: str) -> Principal:
    subject = claims.get(subject_claim)
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise TokenRejected("claims", f"the {subject_claim!r} claim must be a non-empty string")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("claims", "the 'scope' claim must be a space-separated string")
    scopes = frozenset(s for s in scope.split() if s in SCOPES)
    roles = [r for r in _roles(claims.get(role_claim)) if r in ROLES]
    role = "admin" if "admin" in roles else (roles[0] if roles else None)
    if role is not None:
        return Principal(subject, "admin", via, scopes, role)
    if subject.startswith("service:") or scopes:
        return Principal(subject, "service", via, scopes)
    return Principal(subject, "listener", via)
