"""The home page's kept searches (webapp/services/home_read.py) against real PostgreSQL,
Redis and Kafka: a listener's repeated home page is answered from the search the worker
kept, and a kept search is never served once the model, the catalog (a takedown) or the
listener's dislikes moved. Each answer is checked against the exact ranking computed here."""

from __future__ import annotations

import numpy as np
import pytest

from recsys import db
from recsys import model_registry as registry
from recsys.ranking import cap_per_artist
from tests.webapp.test_recs_api import ids, post_event

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 11, "lyrics": False}  # the model served to the app (conftest.py)


@pytest.fixture(scope="module")
def models(model, unserved_model):
    """The served model and a second one, written but not served."""
    return model, unserved_model(12)


@pytest.fixture
def listener(world, fresh_listener):
    return fresh_listener(world.users[7]["id"])


def expected(model, world, user, leave_out=(), limit=10, pool=100):
    artist_of = {s["id"]: s["artist_id"] for s in world.songs}
    query = model.users[user]
    scored = sorted(
        (-float(np.dot(query, v)), s) for s, v in model.items.items() if s not in leave_out
    )[:pool]
    return cap_per_artist([s for _, s in scored], artist_of.get, limit, 2)[:limit]


def home(client, user):
    response = client.get(f"/api/v1/recs/{user}?limit=10")
    assert response.status_code == 200, response.json
    return response


def test_a_repeated_home_page_is_the_kept_search(app, client, models, world, listener):
    first, _ = models
    answer = home(client, listener)
    assert ids(answer) == expected(first, world, listener)
    assert listener in app.extensions["recsys"].recommender.searches
    again = home(client, listener)
    assert ids(again) == ids(answer)
    assert again.json["rec_id"] != answer.json["rec_id"]


def test_a_kept_search_is_not_served_after_a_swap_a_takedown_or_a_dislike(
    app, client, models, world, listener, postgres
):
    first, second = models
    assert ids(home(client, listener)) == expected(first, world, listener)
    top = None
    try:
        with db.connect(postgres, autocommit=True) as conn:
            registry.activate(conn, second.version, by="tests")
        swapped = home(client, listener)
        assert swapped.json["model_version"] == second.version
        assert ids(swapped) == expected(second, world, listener)

        top = ids(swapped)[0]
        with db.connect(postgres, autocommit=True) as conn:
            conn.execute("update catalog.songs set taken_down_at = now() where id = %s", (top,))
        assert ids(home(client, listener)) == expected(second, world, listener, {top})
    finally:
        with db.connect(postgres, autocommit=True) as conn:
            if top is not None:
                conn.execute("update catalog.songs set taken_down_at = null where id = %s", (top,))
            registry.activate(conn, first.version, by="tests")

    best = ids(home(client, listener))[0]
    assert best == expected(first, world, listener)[0]
    post_event(client, listener, best, "dislike", 5)
    assert ids(home(client, listener)) == expected(first, world, listener, {best})
