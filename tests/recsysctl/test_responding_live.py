"""The responding listeners against the real stack: gunicorn serving the trained ALS model,
events through POST /api/v1/logs/events onto the real Kafka. Every event accepted names the
answer it was played from and the song's position in it, and listeners finish more of the
songs that fit their hidden taste."""

from __future__ import annotations

import numpy as np
import pytest

from recsysctl import demo, responding
from recsysctl.responding_traffic import simulate_responses
from tests.kafka_helpers import end_offsets, records_since

pytestmark = pytest.mark.integration


def test_listeners_answer_the_served_lists_by_their_tastes(
    settings, webapp_server, als_model, world
):
    start = end_offsets(settings)
    report = simulate_responses(
        settings, world, listeners=60, sessions=8, seed=3, threads=4, progress=False
    )
    events = report.events
    assert len(events) > 1000
    assert report.count("accepted") == len(events)
    assert report.unanswered == 0

    on_kafka = {r["event_id"]: r for r in records_since(settings, start)}
    answers = {s.answer["rec_id"]: s.answer for s in report.steps if s.answer}
    for event in events:
        landed = on_kafka[event["event_id"]]
        answer = answers[landed["rec_id"]]
        assert answer["user_id"] == landed["user_id"]
        shown = {item["position"]: item["song_id"] for item in answer["items"]}
        assert shown[landed["position"]] == landed["track_id"]
        assert landed["surface"] == ("up_next" if "song_id" in answer else "home")
        assert landed["source"] == "simulation"
    assert {a["model_version"] for a in answers.values()} >= {als_model}

    model = demo.listening_model(world)
    index, users = responding.song_indexes(model), {u: i for i, u in enumerate(model.user_ids)}
    match = np.array(
        [
            responding.taste_match(model, users[e["user_id"]], np.array([index[e["track_id"]]]))[0]
            for e in events
        ]
    )
    completed = np.array([e["action"] == "complete" for e in events])
    skipped = np.array([e["action"] == "skip" for e in events])
    # The model serves mostly songs that fit (taste match 0.9 to 1); the few that miss are
    # enough to tell the listeners apart.
    fits, misses = match >= 0.9, match < 0.6
    assert fits.sum() > 300 and misses.sum() > 40
    assert completed[fits].mean() > completed[misses].mean() + 0.15
    assert skipped[fits].mean() < skipped[misses].mean() - 0.15
    print(
        f"\n{len(events)} events in {report.seconds:.1f} s; complete rate"
        f" {completed[fits].mean():.2f} (taste fits, n={fits.sum()}) vs"
        f" {completed[misses].mean():.2f} (misses, n={misses.sum()})"
    )
