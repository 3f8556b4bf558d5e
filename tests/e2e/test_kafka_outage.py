"""Kafka stopped: the API answers 503 quickly and stores nothing; Kafka back: events are
accepted again and land in the lake."""

import time

import pytest
import requests

from recsysctl.stack import kafka as kafka_service
from spark_jobs import land_events
from spark_jobs.common import lake
from tests.auth_helpers import listener_headers

pytestmark = pytest.mark.integration


def post(settings, event):
    started = time.monotonic()
    response = requests.post(
        f"{settings.webapp_url}/api/v1/logs/event",
        json=event,
        headers=listener_headers(settings, event["user_id"]),
        timeout=30,
    )
    return response, time.monotonic() - started


def land(spark, settings):
    for query in land_events.start_queries(spark, settings, land_events.parse_args([])):
        query.awaitTermination()


def test_kafka_down_means_503_quickly_then_recovery(webapp_server, spark, settings, world):
    song = world.songs[1]
    event = {
        "user_id": world.users[1]["id"],
        "track_id": song["id"],
        "timestamp": int(time.time() * 1000),
        "action": "complete",
        "duration": song["duration_s"],
        "total_duration": song["duration_s"],
    }
    response, _ = post(settings, event)
    assert response.status_code == 202  # warm: the producer is connected

    kafka_service.stop(settings)
    try:
        for _ in range(3):
            response, elapsed = post(settings, event)
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "kafka_unavailable"
            assert elapsed < settings.kafka_send_timeout_s + 3, f"took {elapsed:.1f} s"
    finally:
        kafka_service.start(settings)

    deadline = time.monotonic() + 60
    while True:
        response, _ = post(settings, event)
        if response.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert response.status_code == 202, response.text
    accepted_id = response.json()["event_id"]

    land(spark, settings)
    landed = lake.read_events(spark, settings.lake_uri).where(f"event_id = '{accepted_id}'")
    assert landed.count() == 1
