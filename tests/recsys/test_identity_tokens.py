"""recsys.identity.tokens: our HS256 tokens checked without a JOSE library, against tokens
made by two (joserfc issues ours, PyJWT makes the odd ones), each refusal naming its check.
Pure logic: the API's forged-token cases through real gunicorn and a JWKS are
tests/webapp/test_identity_api.py's."""

import base64
import time

import jwt as pyjwt
import pytest

from recsys.identity.tokens import TokenConfig, TokenIssuer, TokenRejected, TokenVerifier

SECRET = "a-test-secret-of-forty-eight-characters-exactly!"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CONFIG = TokenConfig(
    secret=SECRET, issuer="musicrec", audience="musicrec-api", lifetime_s=600, leeway_s=30
)


def made(secret=SECRET, headers=None, **claims) -> str:
    """A token PyJWT signs: ours but for ``claims`` (None drops one)."""
    now = int(time.time())
    payload = {"iss": "musicrec", "aud": "musicrec-api", "sub": "u1", "iat": now}
    payload |= {"exp": now + 300} | claims
    payload = {k: v for k, v in payload.items() if v is not None}
    return pyjwt.encode(payload, secret, algorithm="HS256", headers=headers)


def check(token: str) -> str:
    with pytest.raises(TokenRejected) as rejected:
        TokenVerifier(CONFIG).verify(token)
    return rejected.value.check


def test_tokens_either_library_signs_verify_to_their_principal():
    issuer, verifier = TokenIssuer(CONFIG), TokenVerifier(CONFIG)
    listener = verifier.verify(issuer.listener("u42"))
    assert (listener.subject, listener.kind, listener.via) == ("u42", "listener", "own")
    service = verifier.verify(issuer.service("sim", ["events:write:any", "recs:read:any"]))
    assert (service.kind, service.scopes) == ("service", {"events:write:any", "recs:read:any"})
    admin = verifier.verify(issuer.admin("ops", "operator"))
    assert (admin.kind, admin.role) == ("admin", "operator")
    assert verifier.verify(made(sub="u7", aud=["other-api", "musicrec-api"])).subject == "u7"
    # within the clock skew: just expired, not yet valid by a little
    now = int(time.time())
    assert verifier.verify(made(exp=now - 10, nbf=now + 10, iat=now + 10)).subject == "u1"


def test_a_changed_byte_anywhere_fails_the_signature():
    token = TokenIssuer(CONFIG).listener("u1")
    header, payload, signature = token.split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    other = base64.urlsafe_b64encode(claims.replace(b'"u1"', b'"u2"')).rstrip(b"=").decode()
    assert check(f"{header}.{other}.{signature}") == "signature"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert check(f"{header}.{payload}.{flipped}") == "signature"
    assert check(made(secret="another-secret-of-forty-eight-characters-exactly")) == "signature"
    assert check(f"{header}.{payload}.") == "signature"


def test_non_canonical_or_padded_base64_is_refused():
    token = TokenIssuer(CONFIG).listener("u1")
    header, payload, signature = token.split(".")
    # the same signature bytes, written with the unused low bits of its last character set
    last = ALPHABET.index(signature[-1])
    assert last % 4 == 0  # 32 bytes: the last character carries 4 bits and 2 unused ones
    odd = signature[:-1] + ALPHABET[last + 1]
    assert base64.urlsafe_b64decode(odd + "=") == base64.urlsafe_b64decode(signature + "=")
    assert check(f"{header}.{payload}.{odd}") == "signature"
    assert check(f"{header}=.{payload}.{signature}") == "malformed"
    assert check(f"{header}.{payload}*.{signature}") == "malformed"


# each token is made when its test runs: one made at collection could expire before it
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: "not-a-jwt", "malformed"),
        (lambda: "a.b.c.d", "malformed"),
        (lambda: "é.b.c", "malformed"),
        (lambda: base64.urlsafe_b64encode(b"[1]").decode() + ".e30.x", "malformed"),
        (lambda: made(headers={"crit": ["exp"]}), "malformed"),
        (lambda: made(exp=int(time.time()) - 3600), "expired"),
        (lambda: made(nbf=int(time.time()) + 3600), "not_yet_valid"),
        (lambda: made(iat=int(time.time()) + 3600), "not_yet_valid"),
        (lambda: made(aud="another-api"), "audience"),
        (lambda: made(aud=["another-api"]), "audience"),
        (lambda: made(sub=None), "claims"),
        (lambda: made(exp=None), "claims"),
        (lambda: made(exp="tomorrow"), "claims"),
        (lambda: made(exp=True), "claims"),
        (lambda: made(jti=7), "claims"),
        (lambda: made(sub=["u1"]), "claims"),
        (lambda: made(scope=["events:write:any"]), "claims"),
        (lambda: made(iss="https://someone-else/"), "issuer"),
        (
            lambda: pyjwt.encode({"iss": "musicrec", "sub": "u1"}, None, algorithm="none"),
            "algorithm",
        ),
        (lambda: pyjwt.encode({"iss": "musicrec"}, SECRET * 2, algorithm="HS512"), "algorithm"),
    ],
)
def test_each_bad_token_names_its_check(make, expected):
    assert check(make()) == expected
