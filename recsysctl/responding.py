"""Simulated listeners who respond to what they are recommended, by their hidden tastes.

Each listener is a demo world user. A session takes the home recommendations, looks down
the list (earlier positions more often, see ``choose``), plays the first song looked at that
appeals to them, and completes or skips it by the listening model
(``recsysctl.demo.history``: taste match, outcomes, seconds heard). It then follows Up Next
for a few songs the same way. A listener who likes nothing on the home page leaves; on Up
Next the player moves on to the first song anyway, which they skip before leaving.

Pure: reads a demo world's ``ListeningModel`` and the answers a ``Recommendations`` gives
(``recsysctl.responding_traffic`` asks the real web app), and hands it one contract event
per playback, carrying the answer's ``rec_id``, the ``surface`` and the song's ``position``,
``source="simulation"``, stamped by the clock given. Each listener draws from their own
generator seeded by ``(seed, listener)``, so the same answers give the same choices;
event ids are fresh, so a second run is new traffic rather than copies.

Example
-------
>>> from recsysctl import demo
>>> model = demo.listening_model(demo.generate_world("small"))
>>> rng = listener_rng(seed=1, user=0)
>>> songs = np.arange(10)
>>> choose(taste_match(model, 0, songs), rng) in (None, *range(10))
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recsys.events import ACTIONS, is_play, new_event_id
from recsysctl import demo
from recsysctl.demo.history import outcomes, skip_seconds, taste_match

LIST_LENGTH = 10
UP_NEXT_SONGS = 4
# Position bias: position p of a list is looked at with probability LOOK_DECAY ** (p - 1).
LOOK_DECAY = 0.8
# A song looked at is played with probability ACCEPT_MIN + ACCEPT_SPAN * match: a list
# shows a title, an artist and a genre, so a listener mostly picks their taste but is
# sometimes curious (and then often skips).
ACCEPT_MIN, ACCEPT_SPAN = 0.1, 0.6
NO_EXPERIMENT = "(no experiment)"
# Independent random streams from one seed: world 1, history 2, responding listeners 3.
_RESPONDING_STREAM = 3


def look_probabilities(count: int) -> np.ndarray:
    """How likely each position of a ``count``-song list is to be looked at."""
    return LOOK_DECAY ** np.arange(count, dtype=float)


def accept_probabilities(match: np.ndarray) -> np.ndarray:
    """How likely a song looked at is played, by its taste match (0 to 1)."""
    return ACCEPT_MIN + ACCEPT_SPAN * np.asarray(match, dtype=float)


def choose(match: np.ndarray, rng: np.random.Generator) -> int | None:
    """The index of the song played from a list whose songs match the listener by
    ``match``: the first one looked at and liked; None when nothing was. Always draws two
    numbers per song, so the generator moves the same way whatever is chosen."""
    looked = rng.random(len(match)) < look_probabilities(len(match))
    liked = rng.random(len(match)) < accept_probabilities(match)
    hits = np.flatnonzero(looked & liked)
    return int(hits[0]) if len(hits) else None


def list_match(model: demo.ListeningModel, user: int, song_index: dict, items: list) -> np.ndarray:
    """Taste match of each item of an answer; 0 for songs the world does not know."""
    known = [song_index.get(item["song_id"]) for item in items]
    songs = np.array([i if i is not None else 0 for i in known], dtype=np.int64)
    match = taste_match(model, user, songs) if len(songs) else np.zeros(0)
    return np.where([i is not None for i in known], match, 0.0)


@dataclass(frozen=True)
class Playback:
    """What a listener did with a list: the item played, how it ended, seconds heard.
    ``chosen`` is False when nothing appealed and the player moved on to the first item."""

    index: int
    action: str
    heard: int
    chosen: bool = True


def respond(
    match: np.ndarray, totals: np.ndarray, rng: np.random.Generator, autoplay: bool
) -> Playback | None:
    """The playback a listener makes of a list (``match`` and ``totals`` per item), or None
    when they leave: nothing appealed and ``autoplay`` is off (the home page)."""
    picked = choose(match, rng)
    if picked is not None:
        one = slice(picked, picked + 1)
        actions, heard = outcomes(match[one], totals[one], rng)
        return Playback(picked, ACTIONS[int(actions[0])], int(heard[0]))
    if autoplay and len(totals):
        return Playback(0, "skip", int(skip_seconds(totals[:1], rng)[0]), chosen=False)
    return None


def playback_event(answer: dict, surface: str, playback: Playback, now_ms: int) -> dict:
    """The contract event of ``playback`` of an item of ``answer`` on ``surface``."""
    item = answer["items"][playback.index]
    return {
        "event_id": new_event_id(),
        "user_id": answer["user_id"],
        "track_id": item["song_id"],
        "timestamp": now_ms,
        "action": playback.action,
        "duration": playback.heard,
        "total_duration": int(item["duration_s"]),
        "source": "simulation",
        "rec_id": answer["rec_id"],
        "surface": surface,
        "position": int(item["position"]),
    }


def arm_of(answer: dict) -> str:
    """``"<experiment>:<arm>"`` of an answer, or NO_EXPERIMENT."""
    experiment = answer.get("experiment")
    if not experiment:
        return NO_EXPERIMENT
    return f"{experiment['name']}:{experiment['arm']}"


class Recommendations(Protocol):
    """Where a listener gets answers and sends events (``HttpRecommendations``, or a fake)."""

    def home(self, user_id: str, limit: int) -> dict | None: ...

    def up_next(self, user_id: str, song_id: str, limit: int) -> dict | None: ...

    def send(self, event: dict) -> str: ...  # "accepted", "rejected" or "failed"


@dataclass(frozen=True)
class Step:
    """One list shown in a session and what came of it: ``answer`` None when there was none
    (Up Next of a song gone from the catalog); ``event`` None when the listener left;
    ``outcome`` the receiver's word on the event."""

    user_id: str
    surface: str
    answer: dict | None
    event: dict | None = None
    outcome: str | None = None
    chosen: bool = True


def song_indexes(model: demo.ListeningModel) -> dict[str, int]:
    """Each song id of the world and its index in ``model``."""
    return {song_id: i for i, song_id in enumerate(model.song_ids)}


def run_session(
    model: demo.ListeningModel,
    song_index: dict[str, int],
    user: int,
    api: Recommendations,
    rng: np.random.Generator,
    up_next: int = UP_NEXT_SONGS,
    limit: int = LIST_LENGTH,
    clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> list[Step]:
    """One session of ``user``: a song from home, then up to ``up_next`` from Up Next, each
    event sent before the next list is asked for (it shapes that list)."""
    user_id = model.user_ids[user]
    songs_wanted = min(int(demo.session_lengths(rng, 1)[0]), 1 + up_next)
    steps: list[Step] = []
    answer, surface = api.home(user_id, limit), "home"
    while answer is not None:
        items = answer["items"]
        match = list_match(model, user, song_index, items)
        totals = np.array([int(i["duration_s"]) for i in items], dtype=np.int64)
        playback = respond(match, totals, rng, autoplay=surface == "up_next")
        if playback is None:
            steps.append(Step(user_id, surface, answer))
            return steps
        event = playback_event(answer, surface, playback, clock_ms())
        outcome = api.send(event)
        steps.append(Step(user_id, surface, answer, event, outcome, playback.chosen))
        if not playback.chosen or len(steps) >= songs_wanted:
            return steps
        answer, surface = api.up_next(user_id, event["track_id"], limit), "up_next"
    steps.append(Step(user_id, surface, None))
    return steps


@dataclass
class ArmCounts:
    """What one experiment arm's answers got: answers, events sent (one per playback) and
    accepted, plays (``recsys.events.is_play``), completes, skips, lists the listener left."""

    answers: int = 0
    events: int = 0
    accepted: int = 0
    plays: int = 0
    completes: int = 0
    skips: int = 0
    left: int = 0

    @property
    def play_through(self) -> float | None:
        """Completes over completes and skips, as the experiments report it."""
        ended = self.completes + self.skips
        return self.completes / ended if ended else None


def count_by_arm(steps: list[Step], play_min_seconds: int = 30) -> dict[str, ArmCounts]:
    """Each arm's counts over ``steps`` (answers that could not be had are in none)."""
    arms: dict[str, ArmCounts] = {}
    for step in steps:
        if step.answer is None:
            continue
        counts = arms.setdefault(arm_of(step.answer), ArmCounts())
        counts.answers += 1
        if step.event is None:
            counts.left += 1
            continue
        event = step.event
        counts.events += 1
        counts.accepted += step.outcome == "accepted"
        counts.plays += is_play(event["action"], event["duration"], play_min_seconds)
        counts.completes += event["action"] == "complete"
        counts.skips += event["action"] == "skip"
    return dict(sorted(arms.items()))


def listener_rng(seed: int, user: int) -> np.random.Generator:
    """The generator of listener ``user``: the same choices for the same answers."""
    return np.random.default_rng([seed, _RESPONDING_STREAM, user])
