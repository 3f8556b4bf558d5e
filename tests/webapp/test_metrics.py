"""GET /metrics: Prometheus text with the app's counters and the pipeline's numbers, in one
process (the test client) and summed over gunicorn's workers (the real server)."""

from __future__ import annotations

import datetime
import re

import pytest
import requests

from recsys import db
from recsys import model_registry as registry
from tests.auth_helpers import service_headers
from tests.kafka_helpers import completed_playback

pytestmark = pytest.mark.integration


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample (0 when absent); ``labels`` must all match."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def event(world, n: int) -> dict:
    return completed_playback(
        world.users[n % len(world.users)]["id"], world.songs[n % len(world.songs)]
    )


def test_requests_events_and_pipeline_numbers_are_exported(client, world, settings, als_model):
    user = world.users[0]["id"]
    before = client.get("/metrics").text
    assert client.get(f"/api/v1/recs/{user}?limit=3").status_code == 200
    assert client.get("/api/v1/recs/no-such-user").status_code == 404
    assert client.post("/api/v1/logs/event", json=event(world, 1)).status_code == 202
    assert client.post("/api/v1/logs/event", json={"user_id": user}).status_code == 422
    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and scrape.mimetype == "text/plain"
    after = scrape.text

    route = "/api/v1/recs/<user_id>"
    for status in ("200", "404"):
        grew = sample(after, "recsys_http_requests_total", endpoint=route, status=status)
        assert (
            grew - sample(before, "recsys_http_requests_total", endpoint=route, status=status) == 1
        )
    assert (
        sample(after, "recsys_http_request_duration_seconds_count", endpoint=route)
        - sample(before, "recsys_http_request_duration_seconds_count", endpoint=route)
        == 2
    )
    for outcome in ("accepted", "rejected"):
        assert (
            sample(after, "recsys_events_total", outcome=outcome)
            - sample(before, "recsys_events_total", outcome=outcome)
            == 1
        )
    assert (
        sample(after, "recsys_recommendations_total", kind="home")
        - sample(before, "recsys_recommendations_total", kind="home")
        == 1
    )
    assert 'user_id="' not in after  # labels name routes, never listeners

    with db.connect(settings) as conn:
        active = registry.active_version(conn)
        embedded = conn.execute("select count(*) from model.lyrics_embeddings").fetchone()[0]
    assert sample(after, "recsys_pipeline_up") == 1
    assert sample(after, "recsys_model_active_version") == active == als_model
    assert sample(after, "recsys_embeddings_songs") == embedded


def test_gunicorn_workers_are_summed(webapp_server, world):
    url = webapp_server.webapp_url
    simulator = service_headers(webapp_server, "events:write:any", name="simulator")
    before = requests.get(f"{url}/metrics", timeout=10).text
    sent = 40
    for n in range(sent):  # a connection each, so both workers take some
        answer = requests.post(
            f"{url}/api/v1/logs/event", json=event(world, n), headers=simulator, timeout=15
        )
        assert answer.status_code == 202, answer.text
    after = requests.get(f"{url}/metrics", timeout=10).text
    accepted = sample(after, "recsys_events_total", outcome="accepted") - sample(
        before, "recsys_events_total", outcome="accepted"
    )
    assert accepted == sent
    assert sample(after, "recsys_pipeline_up") == 1


def test_the_newest_days_online_metrics_are_exported(client, settings, postgres):
    rows = [  # (surface, model_version, experiment, arm, impressions, items, plays, ends)
        ("home", 7, None, None, 10, 100, 12, (9, 3)),
        ("home", 7, "blend", "b", 4, 40, 2, (1, 1)),
        ("up_next", None, None, None, 5, 50, 0, (0, 0)),
    ]
    newest, older = "2099-01-02", "2099-01-01"
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("delete from analytics.online_metrics where day >= %s", (older,))
        for day in (older, newest):
            for surface, version, experiment, arm, shown, items, plays, (done, skips) in rows:
                conn.execute(
                    "insert into analytics.online_metrics values"
                    " (%s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, 1, 2, 60, now())",
                    (day, surface, version, experiment, arm, shown, items, plays, plays, done,
                     skips),
                )  # fmt: skip
        # the older day says otherwise: only the newest may show
        conn.execute("update analytics.online_metrics set plays = 99 where day = %s", (older,))
    try:
        text = client.get("/metrics").text
    finally:
        with db.connect(settings, autocommit=True) as conn:
            conn.execute("delete from analytics.online_metrics where day >= %s", (older,))
    control = {"surface": "home", "model_version": "7", "experiment": "", "arm": ""}
    assert sample(text, "recsys_online_impressions", **control) == 10
    assert sample(text, "recsys_online_plays", **control) == 12
    assert sample(text, "recsys_online_play_rate", **control) == pytest.approx(0.12)
    assert sample(text, "recsys_online_play_through_rate", **control) == pytest.approx(0.75)
    assert sample(text, "recsys_online_skip_rate", **control) == pytest.approx(0.25)
    assert sample(text, "recsys_online_like_rate", **control) == pytest.approx(0.01)
    arm = {"experiment": "blend", "arm": "b"}
    assert sample(text, "recsys_online_play_through_rate", **arm) == pytest.approx(0.5)
    trending = {"surface": "up_next", "model_version": "none"}
    assert sample(text, "recsys_online_impressions", **trending) == 5
    skip_rates = [line for line in text.splitlines() if line.startswith("recsys_online_skip")]
    assert len(skip_rates) == 2, "no rate without an ended playback (up_next had none)"
    midnight = datetime.datetime(2099, 1, 2, tzinfo=datetime.UTC)
    assert sample(text, "recsys_online_metrics_day_seconds") == midnight.timestamp()
