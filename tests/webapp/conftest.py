import pytest

from webapp import create_app


@pytest.fixture(scope="module")
def client(world, kafka, redis_server, settings):
    """The app's test client over the real PostgreSQL, Kafka and Redis of the session."""
    app = create_app(settings)
    yield app.test_client()
    app.extensions["recsys"].close()
