"""Impressions: every recommendation answer of the real gunicorn app is recorded on the
impressions topic of the real Kafka and landed by the real Spark landing job, once, with
the songs in the order served; with Kafka away, recommendations still answer and the lost
impressions are counted in /metrics."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest
import requests
from pyspark.sql import functions as F

from recsys import impressions
from spark_jobs.common.lake import read_impressions
from tests.auth_helpers import listener_headers
from tests.kafka_helpers import end_offsets, records_since
from tests.pipeline_helpers import land
from tests.webapp.test_metrics import sample
from webapp import create_app

pytestmark = pytest.mark.integration


def served(settings, path: str) -> dict:
    answer = requests.get(
        f"{settings.webapp_url}/api/v1/recs/{path}",
        headers=listener_headers(settings, path.split("/")[0].split("?")[0]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_answer_served_is_landed_once_as_an_impression(
    spark, settings, webapp_server, world, kafka
):
    topic = settings.kafka_impressions_topic
    start = end_offsets(settings, topic)
    users = [u["id"] for u in world.users[:3]]
    song = world.songs[0]["id"]
    answers = []
    for user in users:
        answers.append(("home", None, served(settings, f"{user}?limit=5")))
        answers.append(("home", None, served(settings, f"{user}?limit=5&offset=5")))
        answers.append(("up_next", song, served(settings, f"{user}/{song}?limit=4")))
    for _, _, answer in answers:
        assert uuid.UUID(answer["rec_id"])
        assert [i["position"] for i in answer["items"]] == [
            answer["offset"] + n for n in range(1, len(answer["items"]) + 1)
        ]
    assert len({a["rec_id"] for _, _, a in answers}) == len(answers)

    deadline = time.monotonic() + 30
    while sum(end_offsets(settings, topic).values()) - sum(start.values()) < len(answers):
        assert time.monotonic() < deadline, "the impressions did not reach Kafka"
        time.sleep(0.2)
    on_kafka = {r["rec_id"]: r for r in records_since(settings, start, topic)}
    assert len(on_kafka) == len(answers)

    land(spark, settings)
    land(spark, settings)  # a second run lands nothing new
    rows = (
        read_impressions(spark, settings.lake_uri)
        .where(F.col("rec_id").isin(list(on_kafka)))
        .collect()
    )
    assert len(rows) == len(answers)
    by_id = {row.rec_id: row for row in rows}
    assert len(by_id) == len(answers)  # each once
    for surface, seed, answer in answers:
        row = by_id[answer["rec_id"]]
        assert (row.user_id, row.surface, row.seed_song_id) == (answer["user_id"], surface, seed)
        assert (row.mode, row.model_version) == (answer["mode"], answer["model_version"])
        assert row.song_ids == [i["song_id"] for i in answer["items"]]
        assert row.positions == [i["position"] for i in answer["items"]]


def test_with_kafka_away_recommendations_answer_and_the_loss_is_counted(
    settings, world, postgres, redis_server
):
    away = dataclasses.replace(settings, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(away)
    client = app.test_client()
    user = world.users[0]["id"]
    before = sample(client.get("/metrics").text, "recsys_impressions_total", outcome="lost")
    started = time.monotonic()
    for _ in range(5):
        answer = client.get(f"/api/v1/recs/{user}?limit=5")
        assert answer.status_code == 200 and answer.json["items"]
    assert time.monotonic() - started < away.kafka_send_timeout_s  # nobody waited for Kafka
    log = app.extensions["recsys"].impression_log
    log.flush(timeout_s=30)
    after = sample(client.get("/metrics").text, "recsys_impressions_total", outcome="lost")
    assert after - before == 5
    app.extensions["recsys"].close()


def test_an_impression_numbers_its_songs_from_the_page_start():
    record = impressions.impression("r", "u", "up_next", "s0", None, "hybrid", ["a", "b"], 20, 1)
    assert record["positions"] == [21, 22]
    with pytest.raises(ValueError, match="surface"):
        impressions.impression("r", "u", "search", None, None, "x", [], 0, 1)


def test_with_impressions_off_answers_keep_their_rec_id_and_nothing_is_recorded(
    settings, world, postgres, redis_server
):
    off = dataclasses.replace(
        settings, impressions_enabled=False, kafka_bootstrap_servers="127.0.0.1:1"
    )
    app = create_app(off)
    client = app.test_client()
    before = client.get("/metrics").text
    answer = client.get(f"/api/v1/recs/{world.users[0]['id']}?limit=5")
    assert answer.status_code == 200 and uuid.UUID(answer.json["rec_id"])
    log = app.extensions["recsys"].impression_log
    log.flush(timeout_s=30)  # on, the impression would be counted lost by now
    after = client.get("/metrics").text
    for outcome in ("sent", "lost"):
        assert sample(after, "recsys_impressions_total", outcome=outcome) == sample(
            before, "recsys_impressions_total", outcome=outcome
        )
    app.extensions["recsys"].close()
