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

import base64
import binascii
import functools
import hmac
import math
import time
import uuid
from dataclasses import dataclass

import orjson
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


# base64url's alphabet to base64's, for the C decoder's strict mode
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64url(text: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515): another character or padding is a
    ValueError. (A non-canonical ending is let through: the signature covers the text.)"""
    if b"=" in text:
        raise ValueError("padded base64url")
    padded = text.translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


@dataclass(frozen=True, slots=True)
class _Token:
    """A compact JWS split and its header and claims decoded, not yet trusted: they choose
    the verifier, which then checks the signature (over the token's text) and the claims."""

    text: bytes
    header: dict
    claims: dict


def _read(token: str) -> _Token:
    try:
        text = token.encode("ascii")
        header, claims, _ = text.split(b".")
        header, claims = orjson.loads(_b64url(header)), orjson.loads(_b64url(claims))
    except (ValueError, UnicodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        raise TokenRejected("malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("malformed")
    return _Token(text, header, claims)


def _numeric_date(value) -> bool:
    """A JSON number that is a date: not a boolean, not NaN or infinite."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _check_claims(claims: dict, issuer: str, audience: str, subject_claim: str,
                  leeway_s: int) -> None:  # fmt: skip
    """RFC 7519's checks of a verified token's claims: ``iss``, ``aud``, ``exp`` and the
    subject present; the issuer the one trusted, the audience (a string, or a list holding
    it) this API, ``exp`` not past and ``nbf`` and ``iat`` not ahead, each within the clock
    skew; dates numbers, ``sub`` and ``jti`` strings. Raises TokenRejected naming the
    check."""
    for claim in ("iss", "aud", "exp", subject_claim):
        if claims.get(claim) is None:
            raise TokenRejected("claims", f"the token has no {claim!r} claim")
    if claims["iss"] != issuer:
        raise TokenRejected("issuer")
    for claim in ("sub", "jti"):  # strings when present (StringOrURI, a string)
        if claim in claims and not isinstance(claims[claim], str):
            raise TokenRejected("claims", f"the {claim!r} claim has a wrong value or type")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise TokenRejected("audience")
    now = time.time()
    for claim in ("exp", "nbf", "iat"):
        value = claims.get(claim)
        if value is None and claim != "exp":
            continue
        if not _numeric_date(value):
            raise TokenRejected("claims", f"the {claim!r} claim has a wrong value or type")
        if claim == "exp" and value <= int(now) - leeway_s:
            raise TokenRejected("expired")
        if claim != "exp" and value > int(now) + leeway_s:
            raise TokenRejected("not_yet_valid")


def _roles(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class TokenVerifier:
    """Checks a bearer token and says who it names (a Principal), or why not.

    Our HS256 tokens are checked here, without a JOSE library: the token split and
    decoded once (strict base64url, strict JSON), its HMAC-SHA256 compared in constant time
    with the one its header and claims' text must have, then the claims. joserfc, which
    issues them, took about 90 µs of CPU a verification in the request path (some 240
    Python calls: the token parsed again, a claims registry), about 7% of a single event's
    request against issue 20's 5% for all of it; this takes a fifth of that. The identity
    provider's RS256/ES256 tokens are verified by joserfc against its JWKS keys.
    """

    def __init__(self, config: TokenConfig, jwks: JwksKeys | None = None):
        self.config = config
        self._secret = config.secret.encode() if config.secret else None
        self._signatures: dict[str, jws.JWSRegistry] = {}  # per algorithm
        self._jwks = jwks
        if self._jwks is None and config.jwks_url:
            self._jwks = JwksKeys(config.jwks_url, config.jwks_refresh_s)

    def verify(self, token: str) -> Principal:
        read = _read(token)
        algorithm = read.header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise TokenRejected("algorithm", "unsigned tokens (alg none) are refused")
        issuer = read.claims.get("iss")
        if self._secret and issuer == self.config.issuer:
            return self._own(read, algorithm)
        if self._jwks is not None and issuer == self.config.jwks_issuer:
            return self._provider(read, algorithm)
        raise TokenRejected("issuer")

    def _own(self, read: _Token, algorithm: str) -> Principal:
        if algorithm != OWN_ALGORITHM:
            raise TokenRejected("algorithm", f"this app's tokens are {OWN_ALGORITHM} only")
        if "crit" in read.header:  # no extension is understood, so none may be critical
            raise TokenRejected("malformed", "the token's header has a 'crit' parameter")
        signing_input, _, signature = read.text.rpartition(b".")
        mac = hmac.digest(self._secret, signing_input, "sha256")
        if not hmac.compare_digest(base64.urlsafe_b64encode(mac).rstrip(b"="), signature):
            raise TokenRejected("signature")
        config = self.config
        _check_claims(read.claims, config.issuer, config.audience, "sub", config.leeway_s)
        return _principal(read.claims, "sub", "role", "own")

    def _provider(self, read: _Token, algorithm: str) -> Principal:
        config = self.config
        if algorithm not in config.jwks_algorithms:
            accepted = ", ".join(config.jwks_algorithms)
            raise TokenRejected("algorithm", f"the identity provider's tokens are {accepted}")
        kid = read.header.get("kid")
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
        if algorithm not in self._signatures:
            self._signatures[algorithm] = jws.JWSRegistry(algorithms=[algorithm])
        try:
            signed = jws.extract_compact(read.text)
            verified = jws.validate_compact(signed, key, registry=self._signatures[algorithm])
        except WRONG_ALGORITHM:
            raise TokenRejected("algorithm") from None
        except errors.JoseError as err:  # a header it cannot use (crit, ...)
            raise TokenRejected("malformed", f"the token is invalid: {err.error}") from None
        if not verified:
            raise TokenRejected("signature")
        _check_claims(read.claims, config.jwks_issuer, config.audience, config.subject_claim,
                      config.leeway_s)  # fmt: skip
        return _principal(read.claims, config.subject_claim, config.role_claim, "idp")


def _principal(claims: dict, subject_claim: str, role_claim: str, via: str) -> Principal:
    subject = claims.get(subject_claim)
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise TokenRejected("claims", f"the {subject_claim!r} claim must be a non-empty string")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("claims", "the 'scope' claim must be a space-separated string")
    return _principal_of(subject, scope, tuple(_roles(claims.get(role_claim))), via)


@functools.lru_cache(maxsize=4096)
def _principal_of(subject: str, scope: str, roles: tuple[str, ...], via: str) -> Principal:
    """The Principal of a verified token's subject, scope and roles (immutable, so the same
    values give one shared object; the token itself is verified every time)."""
    scopes = frozenset(s for s in scope.split() if s in SCOPES)
    roles = [r for r in roles if r in ROLES]
    role = "admin" if "admin" in roles else (roles[0] if roles else None)
    if role is not None:
        return Principal(subject, "admin", via, scopes, role)
    if subject.startswith("service:") or scopes:
        return Principal(subject, "service", via, scopes)
    return Principal(subject, "listener", via)
