"""The responding listeners' pure parts: which song a listener plays from a list, how it
ends, the events it makes, the counts per experiment arm, the web app client's reading of
answers and the command's arguments."""

from __future__ import annotations

import argparse
import uuid
from collections import Counter

import numpy as np
import orjson
import pytest
import requests

from recsys.events import validate_event
from recsys.settings import Settings
from recsysctl import demo, responding, responding_traffic, simulator

NOW_MS = 1_760_000_000_000


@pytest.fixture(scope="module")
def world() -> demo.World:
    return demo.generate_world("small", seed=11)


@pytest.fixture(scope="module")
def model(world) -> demo.ListeningModel:
    return demo.listening_model(world)


def _genre_songs(model, user: int, best: bool) -> np.ndarray:
    """The songs of ``user``'s favourite genre (best) or least liked one."""
    weights = model.genre_weights[user]
    genre = int(np.argmax(weights) if best else np.argmin(weights))
    return np.flatnonzero(model.song_genre == genre)


def _outcomes_of(model, user: int, pool: np.ndarray, lists: int, seed: int) -> Counter:
    rng = responding.listener_rng(seed, user)
    seen = Counter()
    for _ in range(lists):
        songs = rng.choice(pool, 10)
        match = responding.taste_match(model, user, songs)
        playback = responding.respond(match, model.durations[songs], rng, autoplay=False)
        seen[playback.action if playback else "left"] += 1
    return seen


def test_a_listener_completes_songs_of_their_taste_more_often_and_skips_them_less(model):
    for user in range(5):
        liked = _outcomes_of(model, user, _genre_songs(model, user, best=True), 400, seed=1)
        avoided = _outcomes_of(model, user, _genre_songs(model, user, best=False), 400, seed=1)

        def rate(seen: Counter, action: str) -> float:
            return seen[action] / (seen.total() - seen["left"])

        assert rate(liked, "complete") > rate(avoided, "complete") + 0.2
        assert rate(liked, "skip") < rate(avoided, "skip") - 0.2
        assert liked["left"] < avoided["left"]  # nothing appealed more often


def test_earlier_positions_are_played_more_often():
    rng = np.random.default_rng(3)
    match = np.full(10, 0.5)  # alike songs: only the position differs
    positions = Counter(responding.choose(match, rng) for _ in range(20_000))
    counts = [positions[i] for i in range(10)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 5 * counts[6]
    assert np.all(np.diff(responding.look_probabilities(10)) < 0)


def test_a_better_match_is_played_whatever_its_position(model):
    rng = np.random.default_rng(4)
    match = np.zeros(10)
    match[4] = 1.0
    positions = Counter(responding.choose(match, rng) for _ in range(5_000))
    assert positions[4] == max(positions[i] for i in range(10))


def test_nothing_appealing_on_home_leaves_and_on_up_next_skips_the_first_song():
    match, totals = np.zeros(10), np.full(10, 200)
    for seed in range(50):
        rng = np.random.default_rng(seed)
        home = responding.respond(match, totals, rng, autoplay=False)
        if home is not None:  # curiosity: ACCEPT_MIN
            continue
        rng = np.random.default_rng(seed)
        up_next = responding.respond(match, totals, rng, autoplay=True)
        assert (up_next.index, up_next.action, up_next.chosen) == (0, "skip", False)
        assert 1 <= up_next.heard < 30
        return
    pytest.fail("every seed played something from a list of songs nobody likes")


class FakeWebApp:
    """Answers like the web app's, fixed by the request and how many came before it; keeps
    the events sent. Songs come from the whole world, so lists mix tastes."""

    def __init__(self, world: demo.World, experiment: dict | None = None):
        self.songs = world.songs
        self.experiment = experiment
        self.asked = 0
        self.answers: list[dict] = []
        self.events: list[dict] = []

    def _answer(self, user_id: str, limit: int, song_id: str | None) -> dict:
        self.asked += 1
        rng = np.random.default_rng([self.asked, len(user_id)])
        picks = rng.choice(len(self.songs), limit, replace=False)
        items = [
            {
                "song_id": self.songs[i]["id"],
                "position": n,
                "duration_s": self.songs[i]["duration_s"],
            }
            for n, i in enumerate(picks, start=1)
        ]
        answer = {
            "rec_id": str(uuid.UUID(int=self.asked, version=4)),
            "user_id": user_id,
            "experiment": self.experiment,
            "items": items,
        }
        if song_id:
            answer["song_id"] = song_id
        self.answers.append(answer)
        return answer

    def home(self, user_id, limit):
        return self._answer(user_id, limit, None)

    def up_next(self, user_id, song_id, limit):
        return self._answer(user_id, limit, song_id)

    def send(self, event):
        self.events.append(event)
        return "accepted"


def _sessions(world, model, seed: int, count: int = 20, user: int = 0):
    app = FakeWebApp(world)
    rng = responding.listener_rng(seed, user)
    index = responding.song_indexes(model)
    ticks = iter(range(NOW_MS, NOW_MS + 10_000))
    steps = []
    for _ in range(count):
        steps += responding.run_session(
            model, index, user, app, rng, up_next=4, limit=10, clock_ms=lambda: next(ticks)
        )
    return app, steps


def _choices(steps):
    return [
        (s.surface, s.answer["rec_id"], s.event and {**s.event, "event_id": None}) for s in steps
    ]


def test_the_same_seed_and_answers_give_the_same_choices(world, model):
    _, first = _sessions(world, model, seed=5)
    _, again = _sessions(world, model, seed=5)
    _, other = _sessions(world, model, seed=6)
    assert _choices(first) == _choices(again)
    assert _choices(first) != _choices(other)
    ids = [s.event["event_id"] for s in first + again if s.event]
    assert len(set(ids)) == len(ids)  # a second run is new traffic, not copies


def test_events_carry_their_answer_and_follow_up_next(world, model):
    app, steps = _sessions(world, model, seed=7)
    by_rec_id = {a["rec_id"]: a for a in app.answers}
    assert app.events == [s.event for s in steps if s.event]
    assert {s.surface for s in steps} == {"home", "up_next"}
    previous = None
    for step in steps:
        if step.surface == "home":
            previous = None
        else:  # Up Next of the song just played
            assert step.answer["song_id"] == previous
        if step.event is None:
            continue
        event = step.event
        checked, errors = validate_event(event, now_ms=NOW_MS)
        assert errors == [], errors
        assert (checked["source"], checked["surface"]) == ("simulation", step.surface)
        item = next(
            i for i in by_rec_id[event["rec_id"]]["items"] if i["song_id"] == event["track_id"]
        )
        assert (event["position"], event["total_duration"]) == (
            item["position"],
            item["duration_s"],
        )
        previous = event["track_id"]
    sessions = sum(s.surface == "home" for s in steps)
    assert sessions == 20
    assert len(steps) <= 20 * 5  # a home song and at most 4 from Up Next


def _step(arm: str | None, action: str | None, heard: int = 200, outcome="accepted"):
    experiment = {"name": "e", "arm": arm} if arm else None
    answer = {"rec_id": "r", "user_id": "u", "experiment": experiment, "items": []}
    event = action and {"action": action, "duration": heard}
    return responding.Step("u", "home", answer, event, outcome if action else None)


def test_counts_are_kept_per_experiment_arm():
    steps = [
        _step("control", "complete"),
        _step("control", "skip", heard=4),
        _step("control", "listen", heard=45),
        _step("random", "skip", heard=2, outcome="rejected"),
        _step("random", None),
        _step(None, "listen", heard=10),
        responding.Step("u", "up_next", None),  # not answered: in no arm
    ]
    arms = responding.count_by_arm(steps, play_min_seconds=30)
    assert list(arms) == ["(no experiment)", "e:control", "e:random"]
    control, random_arm, plain = arms["e:control"], arms["e:random"], arms["(no experiment)"]
    assert (control.answers, control.events, control.accepted, control.plays) == (3, 3, 3, 2)
    assert (control.completes, control.skips, control.play_through) == (1, 1, 0.5)
    assert (random_arm.answers, random_arm.accepted, random_arm.left) == (2, 0, 1)
    assert random_arm.play_through == 0.0
    assert (plain.plays, plain.play_through) == (0, None)


class ScriptedSession:
    """Answers GETs from a list of (status, body, headers); keeps the URLs asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.urls: list[str] = []

    def get(self, url, params, timeout):
        self.urls.append(url)
        status, body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code, response.url = status, url
        response.headers.update(headers)
        response._content = orjson.dumps(body)
        return response

    def close(self):
        pass


def test_the_client_waits_when_rate_limited_and_reads_unknown_songs_as_no_list():
    answer = {"rec_id": "r", "items": []}
    session, pauses = (
        ScriptedSession(
            (429, {"error": "rate_limited"}, {"Retry-After": "2"}),
            (503, {"error": "unavailable"}, {}),
            (200, answer, {}),
            (404, {"error": "not_found"}, {}),
        ),
        [],
    )
    api = responding_traffic.HttpRecommendations(Settings(), session, sleep=pauses.append)
    assert api.home("u1", 10) == answer
    assert pauses == [2.0, simulator.BACKOFF_S]
    assert api.up_next("u1", "gone", 10) is None
    assert session.urls[-1].endswith("/api/v1/recs/u1/gone")


def test_a_web_app_that_stays_away_stops_the_simulation():
    session, pauses = ScriptedSession(*[(503, {"error": "unavailable"}, {})] * 5), []
    api = responding_traffic.HttpRecommendations(Settings(), session, sleep=pauses.append)
    with pytest.raises(simulator.SimulationError, match="did not answer GET .* after 5"):
        api.home("u1", 10)
    assert pauses == [0.5, 1.0, 2.0, 4.0]


def test_a_listener_the_web_app_does_not_know_stops_the_simulation():
    session = ScriptedSession((404, {"error": "not_found"}, {}))
    api = responding_traffic.HttpRecommendations(Settings(), session, sleep=lambda s: None)
    with pytest.raises(simulator.SimulationError, match="does not know listener u9"):
        api.home("u9", 10)


def _parse(*argv):
    parser = argparse.ArgumentParser()
    responding_traffic.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_arguments_have_defaults_and_check_values():
    args = _parse()
    assert (args.listeners, args.sessions, args.seed, args.up_next, args.limit) == (
        None,
        3,
        None,
        responding.UP_NEXT_SONGS,
        responding.LIST_LENGTH,
    )
    args = _parse("--listeners", "20", "--sessions", "5", "--seed", "9", "--size", "small")
    assert (args.listeners, args.sessions, args.seed, args.size) == (20, 5, 9, "small")
    for bad in (["--listeners", "0"], ["--sessions", "x"], ["--limit", "101"], ["--up-next", "-1"]):
        with pytest.raises(SystemExit) as stopped:
            _parse(*bad)
        assert stopped.value.code == 2


def test_more_listeners_than_the_world_has_is_refused_with_2(capsys):
    args = _parse("--listeners", "61", "--size", "small", "--world-seed", "11")
    assert responding_traffic.cmd_simulate_responses(args, Settings()) == 2
    assert "the small demo world has 60 listeners" in capsys.readouterr().err
