"""Per-client rate limits against the real Redis: 429 with Retry-After past the bucket, one
bucket shared by every worker, a bucket per client, and per-process buckets while Redis is
away (pure logic, with a clock)."""

from __future__ import annotations

import dataclasses
import secrets
import time

import pytest

from webapp import create_app
from webapp.ratelimit import LocalBuckets

pytestmark = pytest.mark.integration

RATE, BURST_S = 2.0, 2.0  # a bucket of 4 requests, refilled at 2 per second


@pytest.fixture(scope="module")
def limited_settings(settings):
    return dataclasses.replace(
        settings,
        rate_limit_recs_per_s=RATE,
        rate_limit_events_per_s=RATE,
        rate_limit_burst_s=BURST_S,
        webapp_proxy_hops=1,
    )


@pytest.fixture(scope="module")
def workers(limited_settings, world, kafka, redis_server):
    """Two apps over the same Redis, as two gunicorn workers are."""
    apps = [create_app(limited_settings) for _ in range(2)]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.extensions["recsys"].close()


def client_address() -> str:
    """An address no other test used, so each test starts with a full bucket."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def recs(worker, world, address):
    user = world.users[0]["id"]
    return worker.get(f"/api/v1/recs/{user}?limit=3", headers={"X-Forwarded-For": address})


def test_past_the_bucket_a_client_gets_429_with_retry_after_then_passes_again(workers, world):
    address = client_address()
    statuses = [recs(workers[0], world, address).status_code for _ in range(int(RATE * BURST_S))]
    assert statuses == [200] * int(RATE * BURST_S)
    limited = recs(workers[0], world, address)
    assert limited.status_code == 429
    body = limited.get_json()
    assert body["error"] == "rate_limited" and "per second" in body["message"]
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 1 / RATE + 1
    time.sleep(retry_after)
    assert recs(workers[0], world, address).status_code == 200


def test_every_worker_draws_on_the_same_bucket(workers, world):
    address = client_address()
    answers = [recs(workers[i % 2], world, address).status_code for i in range(6)]
    assert answers[:4] == [200] * 4 and set(answers[4:]) == {429}


def test_clients_and_limits_have_buckets_of_their_own(workers, world):
    first, second = client_address(), client_address()
    while recs(workers[0], world, first).status_code != 429:
        pass
    assert recs(workers[0], world, second).status_code == 200
    # the event limit is another bucket: an empty body still passes it and fails validation
    events = workers[0].post("/api/v1/logs/event", json={}, headers={"X-Forwarded-For": first})
    assert events.status_code == 422


def test_unlimited_endpoints_stay_unlimited(workers, world):
    address = client_address()
    statuses = {
        workers[0].get("/api/v1/genres", headers={"X-Forwarded-For": address}).status_code
        for _ in range(int(RATE * BURST_S) * 2)
    }
    assert statuses == {200}


def test_local_buckets_refill_at_the_rate_and_say_how_long_to_wait():
    now = [100.0]
    buckets = LocalBuckets(clock=lambda: now[0])
    waits = [buckets.take(["k"], rate=2.0, capacity=3.0) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.5)
    now[0] += 0.5  # one token back
    assert buckets.take(["k"], 2.0, 3.0) == 0.0
    assert buckets.take(["k"], 2.0, 3.0) == pytest.approx(0.5)
    assert buckets.take(["other"], 2.0, 3.0) == 0.0
    now[0] += 60  # a long pause refills only up to the capacity
    assert [buckets.take(["k"], 2.0, 3.0) for _ in range(4)][3] > 0
