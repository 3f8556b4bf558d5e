"""The webapp's tests: the app of a module over the real PostgreSQL, Kafka and Redis of the
session, with, if the module asks for it, a model whose vectors the test knows served first
(tests/webapp/known_model.py)."""

import pytest

from recsys import db
from tests.webapp.catalog_serving import remove_new_songs
from tests.webapp.known_model import write_known_model
from webapp import create_app


@pytest.fixture(scope="module")
def model(request, postgres, world):
    """The known model the module asks for with ``KNOWN_MODEL``, the keyword arguments of
    known_model.write_known_model and ``adds_songs`` (the songs the module adds, ids new-...,
    are removed before the model is served and after the module); served before the module's
    app starts and left served afterwards. Without ``KNOWN_MODEL``, None."""
    options = dict(getattr(request.module, "KNOWN_MODEL", None) or {})
    if not options:
        yield None
        return
    adds_songs = options.pop("adds_songs", False)
    with db.connect(postgres, autocommit=True) as conn:
        if adds_songs:
            remove_new_songs(conn)
        model = write_known_model(conn, world, **options)
    yield model
    if adds_songs:
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("delete from analytics.trending_history where song_id like 'new-%'")
            remove_new_songs(conn)


@pytest.fixture(scope="module")
def unserved_model(postgres, world):
    """``unserved_model(seed)``: another known model of every listener and song, its run
    passed but not served; the lyrics vectors (not per version) are left as they are."""

    def write(seed: int):
        with db.connect(postgres, autocommit=True) as conn:
            return write_known_model(conn, world, seed, lyrics=False, serve=False)

    return write


@pytest.fixture(scope="module")
def app_settings(settings):
    """The settings of the module's app: the session's, unless the module overrides this."""
    return settings


@pytest.fixture(scope="module")
def app(world, kafka, redis_server, app_settings, model):
    """The module's app, started once the module's known model (if any) is served."""
    app = create_app(app_settings)
    yield app
    app.extensions["recsys"].close()


@pytest.fixture(scope="module")
def client(app):
    """The app's test client over the real PostgreSQL, Kafka and Redis of the session."""
    return app.test_client()


@pytest.fixture
def fresh_listener(app, postgres):
    """``fresh_listener(user)``: ``user``, with no session, likes, dislikes or playlists from
    then until the test ends."""
    users = []

    def clear(user):
        app.extensions["recsys"].sessions.forget(user)
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("delete from catalog.song_feedback where user_id = %s", (user,))
            conn.execute("delete from catalog.playlists where user_id = %s", (user,))

    def fresh(user: str) -> str:
        users.append(user)
        clear(user)
        return user

    yield fresh
    for user in users:
        clear(user)


@pytest.fixture
def admin(settings):
    """The headers of a request with the admin token."""
    return {"Authorization": f"Bearer {settings.admin_token}"}


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn
