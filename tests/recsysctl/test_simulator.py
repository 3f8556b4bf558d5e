"""The simulator's pure parts: live event generation, pacing, batching, reading answers."""

from __future__ import annotations

import argparse
from itertools import count, islice

import orjson
import pytest
import requests

from recsys.events import validate_event
from recsys.settings import Settings
from recsysctl import demo, simulator

NOW_MS = 1_760_000_000_000


@pytest.fixture(scope="module")
def world() -> demo.World:
    return demo.generate_world("small")


def _ticking_clock(start: int = NOW_MS):
    ticks = count(start, 7)
    return lambda: next(ticks)


def test_live_events_are_valid_and_stamped_when_taken(world):
    events = list(islice(simulator.live_events(world, seed=1, clock_ms=_ticking_clock()), 500))
    assert [e["timestamp"] for e in events] == list(range(NOW_MS, NOW_MS + 500 * 7, 7))
    for event in events:
        checked, errors = validate_event(event, now_ms=NOW_MS)
        assert errors == [], errors
        assert checked["source"] == "simulation"
    assert len({e["event_id"] for e in events}) == 500


def test_live_events_come_from_the_first_users_only(world):
    stream = simulator.live_events(world, users=3, seed=1, clock_ms=_ticking_clock())
    listeners = {e["user_id"] for e in islice(stream, 300)}
    assert listeners <= {u["id"] for u in world.users[:3]}
    assert len(listeners) > 1


def test_live_events_follow_the_listening_model(world):
    genre_of = {s["id"]: s["genre"] for s in world.songs}
    stream = simulator.live_events(world, users=1, seed=2, clock_ms=_ticking_clock())
    genres = [genre_of[e["track_id"]] for e in islice(stream, 400)]
    taste = world.tastes[0].genre_weights
    favourite = max(taste, key=taste.get)
    assert genres.count(favourite) / len(genres) > 0.5 * taste[favourite]


def test_live_events_repeat_with_a_seed_and_differ_without(world):
    def take(seed):
        stream = simulator.live_events(world, seed=seed, clock_ms=_ticking_clock())
        return list(islice(stream, 50))

    assert take(3) == take(3)
    assert take(None) != take(None)


def test_live_events_need_a_listener(world):
    with pytest.raises(ValueError):
        next(simulator.live_events(world, users=0))


class FakeClock:
    """Time that only moves when the pacer sleeps or the test says so."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_holds_the_rate_on_an_absolute_schedule():
    clock = FakeClock()
    pacer = simulator.Pacer(10.0, clock=lambda: clock.now, sleep=clock.sleep)
    assert pacer.wait_until_due(0) == 0.0
    assert pacer.wait_until_due(5) == pytest.approx(0.5)
    clock.now += 2.0  # sending took longer than the schedule allowed
    assert pacer.wait_until_due(10) == 0.0
    assert pacer.wait_until_due(30) == pytest.approx(0.5)
    assert clock.now == pytest.approx(103.0)


def test_pacer_without_rate_never_sleeps():
    clock = FakeClock()
    pacer = simulator.Pacer(None, clock=lambda: clock.now, sleep=clock.sleep)
    assert [pacer.wait_until_due(n) for n in (0, 1_000, 10**6)] == [0.0, 0.0, 0.0]
    assert clock.slept == []


def test_pacer_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError):
        simulator.Pacer(0)


@pytest.mark.parametrize(
    ("rate", "batch_size", "expected"),
    [(None, 500, 500), (10_000, 500, 500), (100, 500, 50), (1, 500, 1), (0.1, 500, 1)],
)
def test_batches_fill_within_half_a_second_at_a_rate(rate, batch_size, expected):
    assert simulator.batch_size_for(rate, batch_size) == expected


def test_chunked_splits_into_full_batches_and_a_rest():
    assert [len(b) for b in simulator.chunked(range(1_234), 500)] == [500, 500, 234]
    assert [b for b in simulator.chunked(range(4), 2)] == [[0, 1], [2, 3]]
    assert list(simulator.chunked([], 500)) == []


BATCH = [{"event_id": f"00000000-0000-4000-8000-00000000000{i}"} for i in range(3)]


def test_a_partly_accepted_batch_is_counted_per_event():
    body = {
        "accepted": 1,
        "rejected": 1,
        "failed": 1,
        "results": [
            {"index": 0, "status": "rejected", "errors": [{"field": "x", "reason": "y"}]},
            {"index": 1, "status": "accepted", "event_id": BATCH[1]["event_id"]},
            {"index": 2, "status": "failed", "event_id": BATCH[2]["event_id"]},
        ],
    }
    tally = simulator.read_ingest_response(202, body, BATCH)
    assert (tally.accepted_event_ids, tally.rejected, tally.failed) == (
        [BATCH[1]["event_id"]],
        1,
        1,
    )


def test_an_all_rejected_batch_is_counted_as_rejected():
    results = [{"index": i, "status": "rejected", "errors": []} for i in range(3)]
    body = {"accepted": 0, "rejected": 3, "failed": 0, "results": results}
    tally = simulator.read_ingest_response(422, body, BATCH)
    assert (tally.accepted_event_ids, tally.rejected, tally.failed) == ([], 3, 0)


def test_a_refused_batch_stops_the_simulation():
    body = {"error": "invalid_batch", "message": "a batch carries 1 to 1000 events"}
    with pytest.raises(simulator.SimulationError, match="413"):
        simulator.read_ingest_response(413, body, BATCH)


def test_a_server_error_fails_the_whole_batch():
    tally = simulator.read_ingest_response(500, {"error": "internal_error"}, BATCH)
    assert (tally.accepted_event_ids, tally.rejected, tally.failed) == ([], 0, 3)


class UnreachableSession:
    """A session whose every request fails to connect, as when the web app is down."""

    def __init__(self):
        self.posted: list[list[dict]] = []

    def post(self, url, json, timeout):
        self.posted.append(json["events"])
        raise requests.ConnectionError("connection refused")

    def close(self):
        pass


def test_an_unreachable_web_app_gets_the_same_batch_again_then_counts_it_failed():
    session, pauses = UnreachableSession(), []
    sink = simulator.HttpSink(Settings(), session=session, sleep=pauses.append)
    sink.send(BATCH)
    assert session.posted == [BATCH] * simulator.MAX_ATTEMPTS
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    tally = sink.close()
    assert (tally.accepted_event_ids, tally.rejected, tally.failed) == ([], 0, 3)


def _parse(*argv):
    parser = argparse.ArgumentParser()
    simulator.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_arguments_have_defaults_and_check_values():
    args = _parse()
    assert (args.count, args.rate, args.users, args.via, args.size, args.seed) == (
        1_000,
        None,
        None,
        "http",
        "default",
        demo.DEFAULT_SEED,
    )
    args = _parse("--count", "50", "--rate", "2.5", "--users", "3", "--via", "kafka")
    assert (args.count, args.rate, args.users, args.via) == (50, 2.5, 3, "kafka")
    for bad in (["--count", "0"], ["--rate", "-1"], ["--via", "smoke"], ["--size", "huge"]):
        with pytest.raises(SystemExit):
            _parse(*bad)


class RateLimitedSession:
    """Answers 429 (Retry-After 2) ``limited`` times, then accepts the batch."""

    def __init__(self, limited: int):
        self.limited = limited
        self.posted: list[list[dict]] = []

    def post(self, url, json, timeout):
        self.posted.append(json["events"])
        response = requests.Response()
        if len(self.posted) <= self.limited:
            response.status_code, response.headers["Retry-After"] = 429, "2"
            response._content = b'{"error": "rate_limited", "message": "slow down"}'
        else:
            response.status_code = 202
            results = [{"index": i, "status": "accepted"} for i in range(len(json["events"]))]
            response._content = orjson.dumps({"results": results})
        return response

    def close(self):
        pass


def test_a_rate_limited_batch_waits_as_told_and_is_not_counted_failed():
    limited = simulator.MAX_ATTEMPTS + 1  # more 429s than attempts: waiting is no failure
    session, pauses = RateLimitedSession(limited), []
    sink = simulator.HttpSink(Settings(), session=session, sleep=pauses.append)
    sink.send(BATCH)
    assert session.posted == [BATCH] * (limited + 1)
    assert pauses == [2.0] * limited
    tally = sink.close()
    assert (len(tally.accepted_event_ids), tally.rejected, tally.failed) == (len(BATCH), 0, 0)
