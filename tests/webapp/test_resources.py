"""The web app's per-process objects live on one Resources, each built once and lazily: an
app that has answered nothing has connected to nothing. No services needed."""

from __future__ import annotations

import pytest

from webapp import MAX_URL_LENGTH, create_app
from webapp.resources import Resources, resources


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["recsys"].close()


PER_PROCESS = ("sessions", "limiter", "event_sink", "recommender", "metrics_registry")


def test_every_per_process_object_is_one_property_of_the_resources(app):
    with app.app_context():
        res = resources()
        assert isinstance(res, Resources)
        for name in PER_PROCESS:
            assert getattr(res, name) is getattr(res, name), name


def test_building_them_connects_to_nothing(app):
    res = app.extensions["recsys"]
    for name in PER_PROCESS:
        getattr(res, name)
    assert res._pool is None and res._producer is None


def test_a_url_over_the_limit_is_answered_414_before_any_view(app):
    path = "/api/v1/trending?pad="
    answer = app.test_client().get(path + "x" * (MAX_URL_LENGTH + 1 - len(path)))
    assert answer.status_code == 414
    assert answer.get_json()["errors"] == [
        {"field": "url", "reason": f"must be at most {MAX_URL_LENGTH} characters"}
    ]
