"""Listener identity in token mode (webapp/identity.py, webapp/api/auth.py, recsys.identity):
every forged token refused with the check it failed, a listener acting only as themselves
(Kafka's end offsets unchanged by a refused write), services by scope, admins by role, the
player's sign-up, sign-in, cookie and sign-out; an identity provider's tokens verified
against its JWKS served on loopback, with key rotation.

Real PostgreSQL, Kafka and Redis; the clients here are plain FlaskClients, which carry no
token unless a test gives one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

from recsys import audit, db
from tests.auth_helpers import bearer, issuer, listener_headers, service_headers
from tests.kafka_helpers import completed_playback, end_offsets
from webapp import create_app

pytestmark = pytest.mark.integration

IDP_ISSUER = "https://idp.test/"


# --- an identity provider on loopback -----------------------------------------------------


class Provider:
    """A JWKS endpoint on loopback whose keys can be rotated, and tokens signed by them."""

    def __init__(self):
        self.keys: dict[str, object] = {}
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider.fetches += 1
                body = json.dumps(provider.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"

    def add(self, kid: str, kind: str = "rsa"):
        if kind == "rsa":
            self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict:
        found = []
        for kid, key in self.keys.items():
            algorithm = jwt.algorithms.RSAAlgorithm if _is_rsa(key) else jwt.algorithms.ECAlgorithm
            jwk = json.loads(algorithm.to_jwk(key.public_key()))
            found.append(
                {**jwk, "kid": kid, "use": "sig", "alg": "RS256" if _is_rsa(key) else "ES256"}
            )
        return {"keys": found}

    def token(self, kid: str, subject: str, key=None, **claims) -> str:
        key = key or self.keys[kid]
        now = int(time.time())
        payload = {"iss": IDP_ISSUER, "aud": "musicrec-api", "sub": subject, "iat": now}
        payload |= {"exp": now + 300, **claims}
        algorithm = "RS256" if _is_rsa(key) else "ES256"
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})

    def close(self):
        self.server.shutdown()


def _is_rsa(key) -> bool:
    return isinstance(key, rsa.RSAPrivateKey)


@pytest.fixture(scope="module")
def provider():
    idp = Provider()
    idp.add("rsa-1")
    idp.add("ec-1", "ec")
    yield idp
    idp.close()


@pytest.fixture(scope="module")
def token_settings(settings, provider):
    return dataclasses.replace(
        settings,
        auth_mode="token",
        auth_demo_signin=False,
        auth_jwks_url=provider.url,
        auth_jwks_issuer=IDP_ISSUER,
        admin_tokens="ops:operator:ops-token-0123456789,rotated:admin:new-admin-token-987654",
    )


@pytest.fixture(scope="module")
def app_settings(token_settings):
    return token_settings


@pytest.fixture
def anonymous(app):
    """A client that sends no token unless told to."""
    return FlaskClient(app, use_cookies=True)


@pytest.fixture(scope="module")
def two_listeners(world):
    return world.users[0]["id"], world.users[1]["id"]


def _own(settings, **claims) -> str:
    now = int(time.time())
    payload = {"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": "x"}
    payload |= {"iat": now, "exp": now + 300}
    payload |= claims
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, settings.auth_secret)


def _check(answer) -> str:
    assert answer.status_code == 401, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["errors"] == [{"field": "Authorization", "reason": body["check"]}]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    return body["check"]


# --- every forged token ----------------------------------------------------------------------


def _tamper(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claims | changes).encode()).rstrip(b"=")
    return f"{header}.{forged.decode()}.{signature}"


def forged_tokens(settings, provider, user):
    rsa_public_pem = (
        provider.keys["rsa-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    unsigned = jwt.encode(
        {"iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": user, "exp": now + 60},
        None,
        algorithm="none",
    )
    # HS256 signed with the provider's public key as the secret: the confusion attack
    confused_header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}')
    confused_payload = base64.urlsafe_b64encode(
        json.dumps(
            {"iss": IDP_ISSUER, "aud": "musicrec-api", "sub": user, "exp": now + 60}
        ).encode()
    )
    signing_input = confused_header.rstrip(b"=") + b"." + confused_payload.rstrip(b"=")
    confused_signature = base64.urlsafe_b64encode(
        hmac.new(rsa_public_pem, signing_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    confused = (signing_input + b"." + confused_signature).decode()
    return {
        "malformed": "not-a-jwt",
        "algorithm": unsigned,
        "expired": _own(settings, sub=user, exp=now - 3600, iat=now - 7200),
        "not_yet_valid": _own(settings, sub=user, nbf=now + 3600),
        "audience": _own(settings, sub=user, aud="another-api"),
        "issuer": _own(settings, sub=user, iss="https://someone-else/"),
        "signature": _tamper(issuer(settings).listener("somebody-else"), sub=user),
        "claims": _own(settings, sub=None),
        "unknown_key": provider.token("kid-nobody-has", user, key=stranger),
        "hs_rs_confusion": confused,
        "own_issuer_rs256": jwt.encode(
            {
                "iss": settings.auth_issuer,
                "aud": settings.auth_audience,
                "sub": user,
                "exp": now + 60,
            },
            provider.keys["rsa-1"],
            algorithm="RS256",
        ),
        "another_secret": jwt.encode(
            {
                "iss": settings.auth_issuer,
                "aud": settings.auth_audience,
                "sub": user,
                "exp": now + 60,
            },
            "a-secret-that-is-not-ours-but-long-enough-32b",
            algorithm="HS256",
        ),
    }


EXPECTED_CHECK = {
    "hs_rs_confusion": "algorithm",
    "own_issuer_rs256": "algorithm",
    "another_secret": "signature",
}


def test_every_forged_token_is_401_naming_its_check_never_echoing_it(
    anonymous, token_settings, provider, two_listeners
):
    user = two_listeners[0]
    for case, token in forged_tokens(token_settings, provider, user).items():
        answer = anonymous.get(f"/api/v1/recs/{user}?limit=3", headers=bearer(token))
        assert _check(answer) == EXPECTED_CHECK.get(case, case), case
        assert token not in answer.get_data(as_text=True), case
    assert _check(anonymous.get(f"/api/v1/recs/{user}")) == "missing"
    basic = anonymous.get(f"/api/v1/recs/{user}", headers={"Authorization": "Basic dTpw"})
    assert _check(basic) == "missing"


def test_a_good_token_passes_and_clock_skew_is_allowed(anonymous, token_settings, two_listeners):
    user = two_listeners[0]
    now = int(time.time())
    late = _own(token_settings, sub=user, exp=now - token_settings.auth_clock_skew_s // 2)
    assert anonymous.get(f"/api/v1/recs/{user}?limit=3", headers=bearer(late)).status_code == 200


# --- a listener acts only as themselves ----------------------------------------------------


def test_a_listener_reads_only_their_own_recs_profile_and_likes(
    anonymous, token_settings, two_listeners, world
):
    me, other = two_listeners
    mine = listener_headers(token_settings, me)
    song = world.songs[0]["id"]
    for path in ("recs/{}?limit=3", "recs/{}/" + song + "?limit=3", "users/{}", "users/{}/likes"):
        assert anonymous.get(f"/api/v1/{path.format(me)}", headers=mine).status_code == 200
        refused = anonymous.get(f"/api/v1/{path.format(other)}", headers=mine)
        assert refused.status_code == 403, path
        assert refused.get_json()["errors"][0]["field"] == "user_id"
    unknown = anonymous.get(
        "/api/v1/recs/nobody", headers=listener_headers(token_settings, "nobody")
    )
    assert unknown.status_code == 404
    assert anonymous.get("/api/v1/users", headers=mine).status_code == 403  # no demo sign-in


def test_events_for_another_listener_are_403_and_nothing_reaches_kafka(
    anonymous, token_settings, two_listeners, world
):
    me, other = two_listeners
    mine = listener_headers(token_settings, me)
    song = world.songs[0]
    start = end_offsets(token_settings)
    one = anonymous.post("/api/v1/logs/event", json=completed_playback(other, song), headers=mine)
    assert one.status_code == 403 and one.get_json()["errors"][0]["field"] == "user_id"
    batch = [completed_playback(me, song), completed_playback(other, song)]
    refused = anonymous.post("/api/v1/logs/events", json={"events": batch}, headers=mine)
    assert refused.status_code == 403
    assert refused.get_json()["errors"][0]["field"] == "events[1].user_id"
    assert end_offsets(token_settings) == start
    accepted = anonymous.post("/api/v1/logs/event", json=completed_playback(me, song), headers=mine)
    assert accepted.status_code == 202
    assert sum(end_offsets(token_settings).values()) == sum(start.values()) + 1


def test_services_act_for_anyone_only_with_their_scope(
    anonymous, token_settings, two_listeners, world
):
    me, other = two_listeners
    event = completed_playback(other, world.songs[1])
    reader = service_headers(token_settings, "recs:read:any", name="reader")
    assert anonymous.get(f"/api/v1/recs/{other}?limit=2", headers=reader).status_code == 200
    refused = anonymous.post("/api/v1/logs/event", json=event, headers=reader)
    assert refused.status_code == 403 and "events:write:any" in refused.get_json()["message"]
    writer = service_headers(token_settings, "events:write:any", name="importer")
    assert anonymous.post("/api/v1/logs/event", json=event, headers=writer).status_code == 202
    assert anonymous.get(f"/api/v1/users/{me}", headers=writer).status_code == 403
    lister = service_headers(token_settings, "users:read:any", name="lister")
    assert anonymous.get("/api/v1/users?limit=2", headers=lister).status_code == 200


# --- an identity provider's tokens ---------------------------------------------------------


def test_provider_tokens_rs256_and_es256_verify_against_its_jwks(
    anonymous, provider, two_listeners
):
    me, other = two_listeners
    for kid in ("rsa-1", "ec-1"):
        token = provider.token(kid, me)
        assert anonymous.get(f"/api/v1/recs/{me}?limit=2", headers=bearer(token)).status_code == 200
        assert anonymous.get(f"/api/v1/recs/{other}", headers=bearer(token)).status_code == 403
    wrong_audience = provider.token("rsa-1", me, aud="another-api")
    assert _check(anonymous.get(f"/api/v1/recs/{me}", headers=bearer(wrong_audience))) == (
        "audience"
    )


def test_a_rotated_key_is_fetched_once_and_made_up_kids_do_not_refetch(
    anonymous, app, provider, two_listeners
):
    me = two_listeners[0]
    first = anonymous.get(f"/api/v1/recs/{me}?limit=1", headers=bearer(provider.token("rsa-1", me)))
    assert first.status_code == 200
    fetched = provider.fetches
    provider.add("rsa-2")  # the provider rotates: a new key signs from now on
    jwks = app.extensions["recsys"].verifier._jwks
    jwks._fetched_at -= 60  # the last fetch is older than MIN_REFETCH_S
    rotated = bearer(provider.token("rsa-2", me))
    assert anonymous.get(f"/api/v1/recs/{me}?limit=1", headers=rotated).status_code == 200
    assert provider.fetches == fetched + 1
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(5):
        made_up = bearer(provider.token(f"made-up-{n}", me, key=stranger))
        assert _check(anonymous.get(f"/api/v1/recs/{me}", headers=made_up)) == "unknown_key"
    assert provider.fetches == fetched + 1  # within MIN_REFETCH_S of the last fetch
    del provider.keys["rsa-1"]


# --- admins by role ----------------------------------------------------------------------


def test_admins_by_role_and_several_tokens_each_named_in_the_audit_trail(anonymous, token_settings):
    operator = bearer("ops-token-0123456789")
    assert anonymous.get("/api/v1/admin/models", headers=operator).status_code == 200
    me = anonymous.get("/api/v1/admin/me", headers=operator).get_json()
    assert me == {"name": "ops", "role": "operator", "via": "admin_token"}
    assert anonymous.get("/api/v1/admin/audit", headers=operator).status_code == 200
    refused = anonymous.post("/api/v1/admin/models/1/activate", headers=operator)
    assert refused.status_code == 403 and "operator" in refused.get_json()["message"]
    for token in (token_settings.admin_token, "new-admin-token-987654"):
        assert anonymous.get("/api/v1/admin/models", headers=bearer(token)).status_code == 200
    jwt_operator = bearer(issuer(token_settings).admin("dana", "operator"))
    assert anonymous.get("/api/v1/admin/status", headers=jwt_operator).status_code == 200
    assert (
        anonymous.post("/api/v1/admin/experiments/x/stop", headers=jwt_operator).status_code == 403
    )
    listener = listener_headers(token_settings, "u1")
    assert anonymous.get("/api/v1/admin/models", headers=listener).status_code == 403
    wrong = anonymous.get("/api/v1/admin/models", headers=bearer("not-a-token"))
    assert wrong.status_code == 403
    # an admin action by the rotated token is recorded under its name
    answer = anonymous.post(
        "/api/v1/admin/songs/no-such-song/takedown", headers=bearer("new-admin-token-987654")
    )
    assert answer.status_code == 404
    with db.connect(token_settings) as conn:
        (entry,) = audit.recent(conn, 1)
    assert entry.actor.startswith("api:token:rotated@"), entry.actor


# --- the player's sign-in ----------------------------------------------------------------


def test_sign_up_in_and_out_with_a_cookie_that_needs_the_request_header_to_write(
    anonymous, token_settings, world
):
    name = f"ana{time.time_ns() % 10**9}"
    body = {"username": name, "password": "a long enough secret", "display_name": "Ana"}
    signed_up = anonymous.post("/api/v1/auth/signup", json=body)
    assert signed_up.status_code == 201, signed_up.get_json()
    user = signed_up.get_json()["user"]
    cookie = signed_up.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/api/" in cookie
    taken = anonymous.post("/api/v1/auth/signup", json=body | {"username": name.upper()})
    assert taken.status_code == 409 and taken.get_json()["errors"][0]["field"] == "username"

    me = anonymous.get("/api/v1/auth/me").get_json()
    assert me["signed_in"] and me["user"]["id"] == user["id"]
    assert anonymous.get(f"/api/v1/recs/{user['id']}?limit=2").status_code == 200
    event = completed_playback(user["id"], world.songs[2])
    no_header = anonymous.post("/api/v1/logs/event", json=event)
    assert no_header.status_code == 403
    assert no_header.get_json()["errors"][0]["field"] == "X-Musicrec-Request"
    sent = anonymous.post("/api/v1/logs/event", json=event, headers={"X-Musicrec-Request": "1"})
    assert sent.status_code == 202

    assert anonymous.post("/api/v1/auth/signout").status_code == 204
    assert not anonymous.get("/api/v1/auth/me").get_json()["signed_in"]
    assert anonymous.get(f"/api/v1/recs/{user['id']}").status_code == 401

    wrong = anonymous.post("/api/v1/auth/signin", json={"username": name, "password": "nope nope"})
    unknown = anonymous.post(
        "/api/v1/auth/signin", json={"username": "nobody-at-all", "password": "x" * 9}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"]
    right = anonymous.post(
        "/api/v1/auth/signin", json={"username": name, "password": body["password"]}
    )
    assert right.status_code == 200 and right.get_json()["user"]["id"] == user["id"]
    assert anonymous.get(f"/api/v1/recs/{user['id']}?limit=1").status_code == 200

    with psycopg.connect(token_settings.postgres_dsn) as conn:
        (stored,) = conn.execute(
            "select password_hash from identity.listener_logins where user_id = %s", (user["id"],)
        ).fetchone()
    assert stored.startswith("$argon2id$") and body["password"] not in stored


def test_bad_sign_ups_name_the_field_and_create_no_one(anonymous, token_settings):
    with psycopg.connect(token_settings.postgres_dsn) as conn:
        before = conn.execute("select count(*) from catalog.users").fetchone()[0]
    cases = {
        "password": {"username": "shorty", "password": "short", "display_name": "S"},
        "username": {
            "username": "no spaces here",
            "password": "long enough 1",
            "display_name": "S",
        },
        "onboarding_genres": {
            "username": "genreless",
            "password": "long enough 1",
            "display_name": "G",
            "onboarding_genres": ["no-such-genre"],
        },
    }
    for field, body in cases.items():
        answer = anonymous.post("/api/v1/auth/signup", json=body)
        assert answer.status_code == 422, (field, answer.get_json())
        assert answer.get_json()["errors"][0]["field"] == field
        assert body["password"] not in answer.get_data(as_text=True)
    with psycopg.connect(token_settings.postgres_dsn) as conn:
        assert conn.execute("select count(*) from catalog.users").fetchone()[0] == before


def test_demo_sign_in_only_when_turned_on(token_settings, world, kafka, redis_server):
    user = world.users[3]["id"]
    off = create_app(token_settings)
    on = create_app(dataclasses.replace(token_settings, auth_demo_signin=True))
    try:
        refused = FlaskClient(off).post("/api/v1/auth/demo", json={"user_id": user})
        assert refused.status_code == 403
        client = FlaskClient(on, use_cookies=True)
        assert client.get("/api/v1/users?limit=1").status_code == 200  # the picker's list
        assert client.post("/api/v1/auth/demo", json={"user_id": "nobody"}).status_code == 404
        assert client.post("/api/v1/auth/demo", json={"user_id": user}).status_code == 200
        assert client.get(f"/api/v1/users/{user}").status_code == 200
        assert client.get(f"/api/v1/users/{world.users[4]['id']}").status_code == 403
    finally:
        off.extensions["recsys"].close()
        on.extensions["recsys"].close()


# --- per-listener rate limits and open mode ------------------------------------------------


def test_a_listener_has_one_bucket_wherever_they_call_from(
    token_settings, world, kafka, redis_server
):
    limited = create_app(
        dataclasses.replace(
            token_settings, rate_limit_recs_per_s=1.0, rate_limit_burst_s=2.0, webapp_proxy_hops=1
        )
    )
    user = world.users[5]["id"]
    mine = listener_headers(token_settings, user)
    try:
        client = FlaskClient(limited)
        statuses = [
            client.get(
                f"/api/v1/recs/{user}?limit=1",
                headers=mine | {"X-Forwarded-For": f"10.9.{n}.{time.time_ns() % 250 + 1}"},
            ).status_code
            for n in range(3)
        ]
        assert statuses == [200, 200, 429]
    finally:
        limited.extensions["recsys"].close()


def test_open_mode_needs_no_token_and_says_so_loudly(settings, world, kafka, redis_server):
    app = create_app(dataclasses.replace(settings, auth_mode="open"))
    try:
        client = FlaskClient(app)
        user = world.users[0]["id"]
        assert client.get(f"/api/v1/recs/{user}?limit=2").status_code == 200
        health = client.get("/healthz").get_json()
        assert health["auth"]["mode"] == "open" and "OPEN MODE" in health["auth"]["warning"]
        page = client.get("/").get_data(as_text=True)
        assert 'data-testid="open-mode"' in page
    finally:
        app.extensions["recsys"].close()
    token_app = create_app(dataclasses.replace(settings, auth_mode="token"))
    try:
        client = FlaskClient(token_app)
        assert client.get("/healthz").get_json()["auth"] == {"mode": "token", "demo_signin": True}
        assert 'data-testid="open-mode"' not in client.get("/").get_data(as_text=True)
    finally:
        token_app.extensions["recsys"].close()
