"""Experiments as listeners meet them, through the real app over the real PostgreSQL, Redis
and Kafka: a stable, balanced assignment; each arm served as it says (another model version,
another blend weight, random servable songs); the experiment and arm in every answer and
impression; and a stop returns everyone to what the control served.

Two model versions with known random factors are written for the test world, so each
answer's scores can be checked against a hand computation from those factors.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid

import numpy as np
import pytest

from recsys import db
from recsys import experiment_store as store
from recsys.experiments import Arm, assign_arm
from tests.kafka_helpers import end_offsets, records_since
from tests.webapp.known_model import KnownModel
from webapp import create_app
from webapp.services.experiments import RunningExperiments

pytestmark = pytest.mark.integration

KNOWN_MODEL = {"seed": 1, "lyrics": False}  # the model served to the app (conftest.py)

_names = itertools.count(1)


@pytest.fixture(scope="module")
def models(model, unserved_model):
    """The served model and a candidate, both knowing every listener and song."""
    return {"active": model, "candidate": unserved_model(2)}


@pytest.fixture(scope="module")
def app_settings(settings):
    """The app reads the running experiments on every request, with no rate limit."""
    return dataclasses.replace(settings, experiments_cache_s=0, rate_limit_recs_per_s=0)


@pytest.fixture
def client(app, settings, world):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {settings.admin_token}"
    for user in world.users:
        app.extensions["recsys"].sessions.forget(user["id"])
    yield client
    with db.connect(settings, autocommit=True) as conn:
        for experiment in store.running(conn).values():
            store.stop(conn, experiment.name, "test teardown")


def start(client, surface: str, arms: list[Arm]) -> str:
    name = f"serving-{next(_names)}-{uuid.uuid4().hex[:6]}"
    body = {"name": name, "surface": surface, "arms": [a.as_dict() for a in arms]}
    answer = client.post("/api/v1/admin/experiments", json=body)
    assert answer.status_code == 201, answer.json
    return name


def stop(client, name: str) -> None:
    assert client.post(f"/api/v1/admin/experiments/{name}/stop").status_code == 200


def listener_in(world, name: str, arms: list[Arm], arm: str) -> str:
    return next(u["id"] for u in world.users if assign_arm(u["id"], name, arms).name == arm)


def recs(client, path: str) -> dict:
    answer = client.get(f"/api/v1/recs/{path}")
    assert answer.status_code == 200, answer.json
    return answer.json


def listen(client, user: str, songs: list[str]) -> None:
    now = int(time.time() * 1000)
    for i, song in enumerate(songs):
        body = {"user_id": user, "track_id": song, "timestamp": now + i, "action": "complete",
                "duration": 200, "total_duration": 200}  # fmt: skip
        assert client.post("/api/v1/logs/event", json=body).status_code == 202


def assert_scored_by(answer: dict, model: KnownModel, query: np.ndarray) -> None:
    expected = model.scores(query)
    assert answer["items"]
    for item in answer["items"]:
        assert item["score"] == pytest.approx(expected[item["song_id"]], abs=1e-4)
    # and they are the best of that model (the artist cap may reorder within a page)
    assert min(i["score"] for i in answer["items"]) >= sorted(expected.values())[-100] - 1e-4


BALANCED = [Arm("control", 0.5), Arm("b", 0.3, blend=0.5), Arm("c", 0.2, blend=0.9)]


def test_assignment_is_balanced_and_stable_through_the_api(app, client, world, postgres):
    name = start(client, "home", BALANCED)
    running = app.extensions["recsys"].recommender.experiments
    with db.connect(postgres, autocommit=True) as conn:
        counts = {"control": 0, "b": 0, "c": 0}
        for i in range(10_000):
            counts[running.assignment(conn, "home", f"listener-{i}").arm.name] += 1
    for arm in BALANCED:  # binomial sd at 10,000 is at most 0.005
        assert counts[arm.name] / 10_000 == pytest.approx(arm.share, abs=0.02)

    seen = {}
    for user in (u["id"] for u in world.users):
        answers = [recs(client, f"{user}?limit=5"), recs(client, f"{user}?limit=5&offset=5"),
                   recs(client, f"{user}?limit=5")]  # fmt: skip
        arms = {a["experiment"]["arm"] for a in answers}
        assert len(arms) == 1, (user, arms)  # a listener always lands in the same arm
        assert {a["experiment"]["name"] for a in answers} == {name}
        seen[user] = arms.pop()
    assert set(seen.values()) == {"control", "b", "c"}
    # the same arm in a fresh app (another worker, or after a restart)
    other = create_app(dataclasses.replace(app.config["RECSYS"]))
    try:
        for user in list(seen)[:10]:
            assert recs(other.test_client(), f"{user}?limit=1")["experiment"]["arm"] == seen[user]
    finally:
        other.extensions["recsys"].close()


def test_answers_and_impressions_name_the_experiment_and_arm(app, client, world, settings):
    arms = [Arm("control", 0.5), Arm("low_als", 0.5, blend=0.2)]
    name = start(client, "up_next", arms)
    topic = settings.kafka_impressions_topic
    start_offsets = end_offsets(settings, topic)
    song = world.songs[0]["id"]
    answers = [recs(client, f"{u['id']}/{song}?limit=3") for u in world.users[:6]]
    answers.append(recs(client, f"{world.users[0]['id']}?limit=3"))  # home: no experiment
    app.extensions["recsys"].impression_log.flush(timeout_s=30)
    by_rec_id = {r["rec_id"]: r for r in records_since(settings, start_offsets, topic)}

    for answer in answers[:-1]:
        arm = assign_arm(answer["user_id"], name, arms).name
        assert answer["experiment"] == {"name": name, "arm": arm}
        record = by_rec_id[answer["rec_id"]]
        assert (record["experiment"], record["experiment_arm"]) == (name, arm)
    assert answers[-1]["experiment"] is None
    outside = by_rec_id[answers[-1]["rec_id"]]
    assert (outside["experiment"], outside["experiment_arm"]) == (None, None)


def test_a_model_version_arm_serves_that_version_with_the_session_rebuilt(client, world, models):
    active, candidate = models["active"], models["candidate"]
    arms = [Arm("control", 0.5), Arm("candidate", 0.5, model_version=candidate.version)]
    name = start(client, "home", arms)
    in_control = listener_in(world, name, arms, "control")
    in_candidate = listener_in(world, name, arms, "candidate")

    control_answer = recs(client, f"{in_control}?limit=10")
    assert (control_answer["mode"], control_answer["model_version"]) == (
        "long_term",
        active.version,
    )
    assert_scored_by(control_answer, active, active.users[in_control])
    answer = recs(client, f"{in_candidate}?limit=10")
    assert (answer["mode"], answer["model_version"]) == ("long_term", candidate.version)
    assert_scored_by(answer, candidate, candidate.users[in_candidate])

    heard = [s["id"] for s in world.songs[10:13]]
    listen(client, in_candidate, heard)
    short = candidate.items[heard[0]]
    for song in heard[1:]:  # the EMA in the candidate's space, oldest first
        short = 0.5 * short + 0.5 * candidate.items[song]
    answer = recs(client, f"{in_candidate}?limit=10")
    assert (answer["mode"], answer["model_version"]) == ("session", candidate.version)
    assert_scored_by(answer, candidate, 0.7 * candidate.users[in_candidate] + 0.3 * short)
    assert not {i["song_id"] for i in answer["items"]} & set(heard)


def test_blend_arms_change_the_weights(client, world, models):
    active = models["active"]
    arms = [Arm("control", 0.5), Arm("long_only", 0.5, blend=1.0)]
    name = start(client, "home", arms)
    user = listener_in(world, name, arms, "long_only")
    listen(client, user, [s["id"] for s in world.songs[20:22]])
    answer = recs(client, f"{user}?limit=10")
    assert answer["mode"] == "session"  # it has both vectors, and weighs the short one 0
    assert_scored_by(answer, active, active.users[user])

    arms = [Arm("control", 0.5), Arm("low_als", 0.5, blend=0.25)]
    name = start(client, "up_next", arms)
    song = world.songs[0]["id"]
    for arm, weight in (("low_als", 0.25), ("control", 0.6)):
        answer = recs(client, f"{listener_in(world, name, arms, arm)}/{song}?limit=10")
        assert answer["experiment"]["arm"] == arm and answer["items"]
        for item in answer["items"]:
            expected = weight * item["als_score"] + (1 - weight) * item["content_score"]
            assert item["score"] == pytest.approx(expected, abs=1e-5)


@pytest.fixture
def unservable(settings, world):
    """Three songs taken down; the listener who dislikes two others is returned by the test."""
    down = [s["id"] for s in world.songs[30:33]]
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = now() where id = any(%s)", (down,))
    yield down
    with db.connect(settings, autocommit=True) as conn:
        conn.execute("update catalog.songs set taken_down_at = null where id = any(%s)", (down,))
        conn.execute("delete from catalog.song_feedback where event_id::text like '00000000-%%'")


@pytest.mark.parametrize("surface", ["home", "up_next"])
def test_the_random_arm_serves_servable_songs_only(client, world, settings, unservable, surface):
    arms = [Arm("control", 0.5), Arm("random", 0.5, random=True)]
    name = start(client, surface, arms)
    user = listener_in(world, name, arms, "random")
    disliked = [s["id"] for s in world.songs[40:42]]
    with db.connect(settings, autocommit=True) as conn:
        for i, song in enumerate(disliked):
            conn.execute(
                "insert into catalog.song_feedback (user_id, song_id, feedback, at, event_id)"
                " values (%s, %s, 'dislike', now(), %s)",
                (user, song, f"00000000-0000-0000-0000-{i:012d}"),
            )
    played = [s["id"] for s in world.songs[50:52]]
    listen(client, user, played)
    seed = world.songs[60]["id"]
    path = f"{user}?limit=100" if surface == "home" else f"{user}/{seed}?limit=100"

    answer = recs(client, path)
    assert (answer["mode"], answer["model_version"]) == ("random", None)
    assert answer["experiment"] == {"name": name, "arm": "random"}
    shown = [i["song_id"] for i in answer["items"]]
    assert len(shown) >= 50 and len(set(shown)) == len(shown)
    catalog = {s["id"] for s in world.songs}
    assert set(shown) <= catalog
    never = {*unservable, *disliked, *played, *([seed] if surface == "up_next" else [])}
    assert not set(shown) & never
    assert {i["reason"]["kind"] for i in answer["items"]} == {"random"}
    # in an order fixed for the listener: a second page continues the first
    first, second = recs(client, f"{path[:-3]}20"), recs(client, f"{path[:-3]}20&offset=20")
    assert not {i["song_id"] for i in first["items"]} & {i["song_id"] for i in second["items"]}


def test_a_stop_returns_everyone_to_what_the_control_served(client, world):
    users = [u["id"] for u in world.users[:24]]  # both arms: all but 1 in 8 million
    before = {user: recs(client, f"{user}?limit=10") for user in users}
    assert all(answer["experiment"] is None for answer in before.values())
    arms = [Arm("control", 0.5), Arm("random", 0.5, random=True)]
    name = start(client, "home", arms)
    during = {user: recs(client, f"{user}?limit=10") for user in users}
    stop(client, name)
    after = {user: recs(client, f"{user}?limit=10") for user in users}

    def songs(answer):
        return [(i["song_id"], i["score"]) for i in answer["items"]]

    arm_of = {user: during[user]["experiment"]["arm"] for user in users}
    assert set(arm_of.values()) == {"control", "random"}
    for user in users:
        assert after[user]["experiment"] is None
        assert songs(after[user]) == songs(before[user])
        if arm_of[user] == "control":
            assert songs(during[user]) == songs(before[user])
        else:
            assert during[user]["mode"] == "random"


def test_serving_reads_the_experiments_once_per_cache_period(client, postgres):
    name = start(client, "home", [Arm("control", 0.5), Arm("b", 0.5, blend=0.5)])
    now = [100.0]
    running = RunningExperiments(5.0, clock=lambda: now[0])
    with db.connect(postgres, autocommit=True) as conn:
        assert running.assignment(conn, "home", "u1").experiment == name
        store.stop(conn, name, "test")
        now[0] += 4.9  # still cached: no query, and the stop is not seen yet
        assert running.assignment(conn, "home", "u1").experiment == name
        now[0] += 0.1
        assert running.assignment(conn, "home", "u1") is None
        assert running.assignment(conn, "up_next", "u1") is None


def test_an_arm_whose_version_was_dropped_by_hand_is_served_the_active_model(
    client, world, models, postgres, unserved_model
):
    doomed = unserved_model(3)
    arms = [Arm("control", 0.5), Arm("doomed", 0.5, model_version=doomed.version)]
    name = start(client, "home", arms)
    user = listener_in(world, name, arms, "doomed")
    assert recs(client, f"{user}?limit=5")["model_version"] == doomed.version
    with db.connect(postgres, autocommit=True) as conn:
        conn.execute(f"drop table model.als_factors_{doomed.version}")
        conn.execute("update model.als_runs set status = 'pruned' where version = %s",
                     (doomed.version,))  # fmt: skip

    answer = recs(client, f"{user}?limit=5")
    assert answer["degraded"] == ["experiment_arm_unavailable"]
    assert answer["model_version"] == models["active"].version
    assert answer["experiment"] == {"name": name, "arm": "doomed"}
    assert_scored_by(answer, models["active"], models["active"].users[user])
