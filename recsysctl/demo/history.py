"""The listening model: turns a demo world's hidden tastes into contract listening events.

Listeners choose songs by taste and popularity, skip songs that miss their taste and finish
songs that fit, so models trained on the history have real signal to find. The same world,
end, days and seed always give the same events. ``recsysctl.simulator`` reuses the model for
live traffic, ``recsysctl.responding`` its taste match and outcomes for listeners answering
recommendations.

Reads a ``World`` (``recsysctl.demo.world``); yields contract events (see ``recsys.events``)
and writes nothing.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from recsys.events import ACTIONS
from recsysctl.demo.vocabulary import GENRES, HOUR_SHARE
from recsysctl.demo.world import DEFAULT_SEED, SIZES, World

FAVOURITE_ARTIST_BOOST = 6.0
SKIP_MAX_S = 29  # a skip is a playback stopped before 30 s (settings.play_min_seconds)
DAY_MS = 86_400_000
LISTEN, SKIP, COMPLETE = (ACTIONS.index(a) for a in ("listen", "skip", "complete"))
# Independent random streams from one seed: the world draws from 1, the history from 2.
_HISTORY_STREAM = 2


@dataclass(frozen=True, eq=False)
class ListeningModel:
    """A world as arrays, for choosing songs and playback outcomes quickly."""

    song_ids: list[str]
    user_ids: list[str]
    durations: np.ndarray  # per song, seconds
    song_genre: np.ndarray  # per song, index into GENRES
    song_artist: np.ndarray  # per song, index into world.artists
    popularity: np.ndarray  # per song, sums to 1
    genre_weights: np.ndarray  # users x genres
    favourite_artists: list[np.ndarray]  # per user, indexes into world.artists
    sessions_per_day: np.ndarray  # per user


@dataclass(frozen=True)
class Playbacks:
    """Consecutive playbacks of one listener: song indexes, outcome codes, seconds heard."""

    songs: np.ndarray
    actions: np.ndarray
    heard: np.ndarray


def listening_model(world: World) -> ListeningModel:
    artist_index = {a["id"]: i for i, a in enumerate(world.artists)}
    return ListeningModel(
        song_ids=[s["id"] for s in world.songs],
        user_ids=[u["id"] for u in world.users],
        durations=np.array([s["duration_s"] for s in world.songs], dtype=np.int64),
        song_genre=np.array([GENRES.index(s["genre"]) for s in world.songs]),
        song_artist=np.array([artist_index[s["artist_id"]] for s in world.songs]),
        popularity=np.array(world.popularity),
        genre_weights=np.array([[t.genre_weights[g] for g in GENRES] for t in world.tastes]),
        favourite_artists=[
            np.array([artist_index[a] for a in t.favourite_artists], dtype=np.int64)
            for t in world.tastes
        ],
        sessions_per_day=np.array([t.sessions_per_day for t in world.tastes]),
    )


def session_lengths(rng: np.random.Generator, count: int) -> np.ndarray:
    """Songs per listening session: mostly a handful, sometimes dozens."""
    return np.minimum(rng.geometric(0.18, size=count), 40)


def taste_match(model: ListeningModel, user: int, songs: np.ndarray) -> np.ndarray:
    """How well each song fits the listener, 0 (a genre they avoid) to 1."""
    weights = model.genre_weights[user]
    genre_fit = weights[model.song_genre[songs]] / weights.max()
    favourite = np.isin(model.song_artist[songs], model.favourite_artists[user])
    return np.minimum(genre_fit + 0.5 * favourite, 1.0)


def _choose_songs(model: ListeningModel, user: int, count: int, rng) -> np.ndarray:
    appeal = model.popularity * model.genre_weights[user][model.song_genre]
    favourite = np.isin(model.song_artist, model.favourite_artists[user])
    appeal = np.where(favourite, appeal * FAVOURITE_ARTIST_BOOST, appeal)
    cumulative = np.cumsum(appeal)
    picks = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    return np.minimum(picks, len(cumulative) - 1)


def skip_seconds(totals: np.ndarray, rng) -> np.ndarray:
    """Seconds heard of songs skipped: under 30 s, most stopped in the first few."""
    skip_span = np.maximum(np.minimum(SKIP_MAX_S, totals - 1), 1)
    return 1 + np.floor(rng.random(len(totals)) ** 1.5 * skip_span).astype(np.int64)


def outcomes(match: np.ndarray, totals: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Skip songs that miss the taste, finish songs that fit; seconds heard per playback."""
    p_skip = 0.55 - 0.45 * match
    p_complete = 0.15 + 0.5 * match
    draw = rng.random(len(match))
    actions = np.where(draw < p_skip, SKIP, np.where(draw < p_skip + p_complete, COMPLETE, LISTEN))
    # A listen stops between 30 s and the end; songs too short for that are heard whole.
    actions = np.where((actions == LISTEN) & (totals <= SKIP_MAX_S + 1), COMPLETE, actions)
    skip_heard = skip_seconds(totals, rng)
    listen_from = SKIP_MAX_S + 1
    listen_heard = listen_from + np.floor(
        rng.random(len(match)) * np.maximum(totals - listen_from, 1)
    ).astype(np.int64)
    heard = np.select([actions == SKIP, actions == LISTEN], [skip_heard, listen_heard], totals)
    return actions, np.minimum(heard, totals)


def playbacks(model: ListeningModel, user: int, count: int, rng) -> Playbacks:
    """``count`` playbacks by ``user``: songs by taste and popularity, then their outcomes."""
    songs = _choose_songs(model, user, count, rng)
    actions, heard = outcomes(taste_match(model, user, songs), model.durations[songs], rng)
    return Playbacks(songs, actions, heard)


def event_ids(rng: np.random.Generator, count: int) -> list[str]:
    """Random-looking UUIDv4 strings, reproducible from the generator's seed."""
    raw = rng.bytes(16 * count)
    return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, 16 * count, 16)]


def playback_events(
    model: ListeningModel, user: int, plays: Playbacks, timestamps: Iterable[int], ids: list[str]
) -> Iterator[dict]:
    """Contract events of ``plays``; ``timestamps`` is read lazily, one per event."""
    user_id, song_ids, durations = model.user_ids[user], model.song_ids, model.durations
    playback = zip(
        ids, plays.songs.tolist(), plays.actions.tolist(), plays.heard.tolist(), strict=True
    )
    # Not strict: live traffic passes an endless clock as timestamps.
    for (event_id, song, action, heard), ts in zip(playback, timestamps, strict=False):
        yield {
            "event_id": event_id,
            "user_id": user_id,
            "track_id": song_ids[song],
            "timestamp": ts,
            "action": ACTIONS[action],
            "duration": heard,
            "total_duration": int(durations[song]),
            "source": "simulation",
        }


def _session_starts(rng, sessions_per_day: float, start_ms: int, end_ms: int) -> np.ndarray:
    first_midnight = start_ms - start_ms % DAY_MS
    day_count = math.ceil((end_ms - first_midnight) / DAY_MS)
    n = rng.poisson(sessions_per_day * day_count)
    starts = (
        first_midnight
        + rng.integers(0, day_count, n) * DAY_MS
        + rng.choice(24, size=n, p=HOUR_SHARE) * 3_600_000
        + rng.integers(0, 3_600_000, n)
    )
    return np.sort(starts[(starts >= start_ms) & (starts < end_ms)])


def _user_history(model: ListeningModel, user: int, start_ms: int, end_ms: int, rng):
    starts = _session_starts(rng, model.sessions_per_day[user], start_ms, end_ms)
    if not len(starts):
        return
    lengths = session_lengths(rng, len(starts))
    plays = playbacks(model, user, int(lengths.sum()), rng)
    # Each event is sent when its playback stops: after what was heard plus a short pause.
    elapsed_s = plays.heard + rng.integers(0, 6, len(plays.heard))
    ends_s = np.cumsum(elapsed_s)
    first = np.cumsum(lengths) - lengths
    session_span_ms = (np.add.reduceat(elapsed_s, first) + 1) * 1000
    # A session starting before the previous one ended waits for it.
    before = np.cumsum(session_span_ms) - session_span_ms
    starts = before + np.maximum.accumulate(starts - before)
    into_session_s = ends_s - np.repeat(ends_s[first] - elapsed_s[first], lengths)
    timestamps = (
        np.repeat(starts, lengths) + into_session_s * 1000 + rng.integers(0, 1000, len(ends_s))
    )
    keep = timestamps < end_ms
    kept = Playbacks(plays.songs[keep], plays.actions[keep], plays.heard[keep])
    ids = event_ids(rng, int(keep.sum()))
    yield from playback_events(model, user, kept, timestamps[keep].tolist(), ids)


def generate_history(
    world: World, end: datetime, days: int | None = None, seed: int = DEFAULT_SEED
) -> Iterator[dict]:
    """Listening events of every user over ``[end - days, end)``, one per playback.

    Parameters
    ----------
    world : World
        From ``generate_world`` or ``read_world``.
    end : datetime
        Timezone-aware end of the history (exclusive).
    days : int, optional
        Length of the history; the world size's ``days`` when omitted.
    seed : int
        The same world, ``end``, ``days`` and seed give the same events.

    Yields
    ------
    dict
        Contract events (``source="simulation"``), user by user, each user's in time order.
    """
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware, e.g. datetime.now(timezone.utc)")
    days = SIZES[world.size].days if days is None else days
    end_ms = int(end.timestamp() * 1000)
    start_ms = end_ms - days * DAY_MS
    model = listening_model(world)
    for user in range(len(model.user_ids)):
        rng = np.random.default_rng([seed, _HISTORY_STREAM, user])
        yield from _user_history(model, user, start_ms, end_ms, rng)
