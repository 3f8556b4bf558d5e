"""Serving a real Spark ALS model trained on the test history: recommendations follow the
listener's session."""

from __future__ import annotations

import time

import pytest

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
