"""Identity through the real gunicorn in token mode (the session's web app): a listener's
token reads and writes only for its listener, with Kafka's end offsets unchanged by a refused
write; a forged token is a 401 JSON error naming its check; open mode is not on."""

from __future__ import annotations

import pytest
import requests

from tests.auth_helpers import bearer, issuer, listener_headers
from tests.kafka_helpers import completed_playback, end_offsets

pytestmark = pytest.mark.integration


def test_through_gunicorn_a_listener_acts_only_as_themselves(webapp_server, world):
    settings = webapp_server
    url = settings.webapp_url
    me, other = world.users[10]["id"], world.users[11]["id"]
    mine = listener_headers(settings, me)
    assert requests.get(f"{url}/healthz", timeout=10).json()["auth"]["mode"] == "token"

    assert requests.get(f"{url}/api/v1/recs/{me}?limit=2", headers=mine, timeout=10).ok
    refused = requests.get(f"{url}/api/v1/users/{other}/likes", headers=mine, timeout=10)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "user_id"

    start = end_offsets(settings)
    batch = {
        "events": [
            completed_playback(me, world.songs[3]),
            completed_playback(other, world.songs[3]),
        ]
    }
    posted = requests.post(f"{url}/api/v1/logs/events", json=batch, headers=mine, timeout=30)
    assert posted.status_code == 403
    assert posted.json()["errors"][0]["field"] == "events[1].user_id"
    assert end_offsets(settings) == start

    expired = issuer(settings).listener(me, lifetime_s=-120)
    answer = requests.get(f"{url}/api/v1/recs/{me}", headers=bearer(expired), timeout=10)
    assert answer.status_code == 401 and answer.json()["check"] == "expired"
    assert expired not in answer.text
