"""Serving a real Spark ALS model trained on the test history: recommendations follow the
listener's session."""

from __future__ import annotations

import threading
import time

import pytest

from recsys import db
from recsys import model_registry as registry
from webapp import create_app

pytestmark = pytest.mark.integration


def test_home_recommendations_follow_the_session(als_model, world, kafka, redis_server, settings):
    app = create_app(settings)
    client = app.test_client()
    user = world.users[0]["id"]
    app.extensions["recsys"].sessions.forget(user)
    try:
        before = client.get(f"/api/v1/recs/{user}?limit=20").json
        assert before["mode"] == "long_term" and before["model_version"] == als_model
        assert len(before["items"]) == 20
        played = [item["song_id"] for item in before["items"][-3:]]
        now = int(time.time() * 1000)
        for i, song in enumerate(played):
            body = {"user_id": user, "track_id": song, "timestamp": now + i, "action": "complete",
                    "duration": 200, "total_duration": 200}  # fmt: skip
            assert client.post("/api/v1/logs/event", json=body).status_code == 202
        after = client.get(f"/api/v1/recs/{user}?limit=20").json
        assert after["mode"] == "session"
        after_ids = [item["song_id"] for item in after["items"]]
        assert not set(played) & set(after_ids)
        assert after_ids != [item["song_id"] for item in before["items"]]
        reasons = {item["reason"].get("song_id") for item in after["items"]}
        assert reasons & set(played)
    finally:
        app.extensions["recsys"].sessions.forget(user)
        app.extensions["recsys"].close()


def test_an_activation_waits_for_a_next_song_answer_in_flight(als_model, settings):
    """Next songs are read in one transaction holding the served model: a swap that starts
    meanwhile waits for it to end, then goes live at once."""
    with db.connect(settings, autocommit=True) as swapper:
        activation = threading.Thread(
            target=registry.activate, args=(swapper, als_model), kwargs={"by": "test"}
        )
        with db.connect(settings, autocommit=True) as reader, reader.transaction():
            registry.hold_active_model(reader)
            activation.start()
            activation.join(timeout=2)
            assert activation.is_alive(), "the swap went ahead during a next-song read"
            waiting = reader.execute(
                "select count(*) from pg_locks where not granted and mode = 'ExclusiveLock'"
                " and relation = 'model.active_model'::regclass"
            ).fetchone()[0]
            assert waiting == 1
        activation.join(timeout=30)
        assert not activation.is_alive(), "the swap did not go ahead after the read"
        with db.connect(settings) as conn:
            activated_by = conn.execute("select activated_by from model.active_model").fetchone()[0]
    assert activated_by == "test"
