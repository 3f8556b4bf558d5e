"""The player's sign-in: POST /auth/signup, /auth/signin, /auth/demo, /auth/signout and
GET /auth/me.

Signing up or in answers a listener's token (recsys.identity.tokens) in the body, for API
clients, and in an HttpOnly, SameSite=Strict cookie for the player: page scripts never hold
the token, so a script injected into a page cannot read it, and the sign-in outlives a
reload. ``/auth/demo`` signs in as any listener without a password, only while
RECSYS_AUTH_DEMO_SIGNIN is on (the local demo: its generated listeners have no passwords).
"""

from __future__ import annotations

from typing import Annotated

from flask import current_app, jsonify, make_response, request
from pydantic import AfterValidator, BaseModel, StringConstraints

from recsys.events import Text, not_blank
from recsys.identity import credentials, passwords
from recsys.identity.tokens import TokenConfig, TokenIssuer
from webapp.api import api
from webapp.api.answers import User
from webapp.api.auth import COOKIE, known_caller
from webapp.api.catalog import Genres, known_genres
from webapp.api.params import RATE_LIMITED, Body, Invalid, operation
from webapp.errors import ApiError, not_found
from webapp.ratelimit import limited
from webapp.resources import resources
from webapp.services import catalog

INVALID_SIGNUP = Invalid(422, "invalid_signup", "the listener was not signed up")
INVALID_SIGNIN = Invalid(422, "invalid_signin", "the sign-in is malformed")
Username = Annotated[
    Text,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=40, pattern=r"^[\w.-]+$"),
]
Password = Annotated[
    str, StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
]


class SignUp(Body):
    username: Username
    password: Password
    display_name: Annotated[Text, StringConstraints(max_length=100), AfterValidator(not_blank)]
    onboarding_genres: Genres = []


class SignIn(Body):
    username: Annotated[Text, StringConstraints(max_length=40)]
    password: Annotated[str, StringConstraints(max_length=passwords.MAX_LENGTH)]


class DemoSignIn(Body):
    user_id: Text


class SignedIn(BaseModel):
    user: User
    token: str
    expires_in: int


class Me(BaseModel):
    mode: str
    demo_signin: bool
    signed_in: bool
    kind: str | None = None
    user: User | None = None


def _signed_in(user: dict, status: int = 200):
    settings = current_app.config["RECSYS"]
    config = TokenConfig.from_settings(settings)
    token = TokenIssuer(config).listener(user["id"])
    answer = make_response(
        jsonify({"user": user, "token": token, "expires_in": config.lifetime_s}), status
    )
    answer.set_cookie(
        COOKIE,
        token,
        max_age=config.lifetime_s,
        path="/api/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


SIGNIN_ANSWERS = {429: RATE_LIMITED, 503: "No RECSYS_AUTH_SECRET is configured on the server."}


def _require_secret() -> None:
    if not current_app.config["RECSYS"].auth_secret:
        raise ApiError(503, "signin_disabled", "no RECSYS_AUTH_SECRET is configured")


@api.post("/auth/signup")
@limited("signin")
@operation(
    "Sign up a new listener with a password; signs them in.",
    body=SignUp,
    invalid=INVALID_SIGNUP,
    answers={
        201: ("Signed up and in: the listener and their token.", SignedIn),
        409: "The username is taken.",
        **SIGNIN_ANSWERS,
    },
)
def signup(body: SignUp):
    _require_secret()
    with resources().pool.connection() as conn, conn.transaction():
        genres = known_genres(conn, body.onboarding_genres)
        user = catalog.create_user(conn, body.display_name.strip(), genres)
        try:
            credentials.create(conn, user["id"], body.username, body.password)
        except credentials.UsernameTaken:
            raise ApiError(
                409,
                "username_taken",
                f"the username {body.username!r} is taken",
                [{"field": "username", "reason": "taken"}],
            ) from None
    return _signed_in(user, 201)


@api.post("/auth/signin")
@limited("signin")
@operation(
    "Sign in with a username and password.",
    body=SignIn,
    invalid=INVALID_SIGNIN,
    answers={
        200: ("Signed in: the listener and their token.", SignedIn),
        401: "The username or the password is wrong (the answer does not say which).",
        **SIGNIN_ANSWERS,
    },
)
def signin(body: SignIn):
    _require_secret()
    with resources().pool.connection() as conn:
        user_id = credentials.check(conn, body.username.strip(), body.password)
        user = catalog.user(conn, user_id) if user_id else None
    if user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "the username or the password is wrong",
            [{"field": "password", "reason": "wrong username or password"}],
        )
    return _signed_in(user)


@api.post("/auth/demo")
@limited("signin")
@operation(
    "Sign in as any listener, without a password (the local demo only).",
    body=DemoSignIn,
    answers={
        200: ("Signed in: the listener and their token.", SignedIn),
        403: "Demo sign-in is off (RECSYS_AUTH_DEMO_SIGNIN).",
        404: "No such user.",
        **SIGNIN_ANSWERS,
    },
)
def demo_signin(body: DemoSignIn):
    if not current_app.config["RECSYS"].auth_demo_signin:
        raise ApiError(
            403,
            "demo_signin_off",
            "signing in without a password is off on this server (RECSYS_AUTH_DEMO_SIGNIN)",
        )
    _require_secret()
    with resources().pool.connection() as conn:
        user = catalog.user(conn, body.user_id)
    if user is None:
        raise not_found("user", "user_id", body.user_id)
    return _signed_in(user)


@api.post("/auth/signout")
@operation("Sign out: the player's cookie is cleared.", answers={204: "Signed out."})
def signout():
    answer = make_response("", 204)
    answer.delete_cookie(COOKIE, path="/api/", secure=request.is_secure, httponly=True)
    return answer


@api.get("/auth/me")
@operation(
    "Who the request is signed in as, and the server's identity mode.",
    answers={200: ("The mode and the signed-in listener, if any.", Me)},
)
def me():
    settings = current_app.config["RECSYS"]
    answer = {
        "mode": settings.auth_mode,
        "demo_signin": settings.auth_demo_signin,
        "signed_in": False,
    }
    who = known_caller() if settings.auth_mode == "token" else None
    if who is not None:
        answer |= {"signed_in": True, "kind": who.kind}
        if who.kind == "listener":
            with resources().pool.connection() as conn:
                answer["user"] = catalog.user(conn, who.subject)
            answer["signed_in"] = answer["user"] is not None
    return jsonify(answer)
