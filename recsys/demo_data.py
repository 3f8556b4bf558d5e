"""A deterministic demo music world and its listening history, for demos, tests and benchmarks.

Generates artists, songs and users shaped like the ``catalog`` tables, plus what the catalog
never shows: each listener's taste (genre weights, favourite artists, how often they listen),
each song's popularity and mood. ``generate_history`` turns that hidden truth into contract
events (see ``recsys.events``), so models trained on the history have real signal to find.
The same ``(size, seed)`` always gives the same world and the same history.

Writes the world as JSON files (``write_world``) and upserts it into ``catalog.artists``,
``catalog.songs`` and ``catalog.users`` (``load_catalog``); reads only its own JSON files.

Example
-------
>>> from datetime import datetime, timezone
>>> world = generate_world("small")
>>> events = list(generate_history(world, end=datetime(2025, 1, 1, tzinfo=timezone.utc)))
>>> events[0]["source"]
'simulation'
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
from psycopg import sql

from recsys.events import ACTIONS


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DEFAULT_SEED = 7
GENRES = _words("rock pop hip-hop jazz classical electronic country metal folk r&b")
# Share of artists per genre, and the prior of listeners' tastes.
GENRE_SHARE = np.array([0.16, 0.18, 0.16, 0.06, 0.05, 0.11, 0.08, 0.06, 0.06, 0.08])
MOODS = _words("happy sad angry calm romantic nostalgic")
# Some genres lean to a mood, so mood and genre are related as in real catalogs.
GENRE_MOOD = {
    "metal": "angry",
    "classical": "calm",
    "r&b": "romantic",
    "pop": "happy",
    "folk": "nostalgic",
    "country": "nostalgic",
    "jazz": "calm",
}

GENRE_WORDS = {
    "rock": _words(
        "guitar highway thunder rebel engine amplifier riot garage stone fire road wild "
        "loud electric leather drum rumble freedom outlaw storm"
    ),
    "pop": _words(
        "dance baby party glitter tonight radio sugar candy mirror spotlight glow summer "
        "crush phone selfie bubble pink star crowd confetti"
    ),
    "hip-hop": _words(
        "block hustle crew rhyme cipher corner mic flow beat street money hood grind "
        "boss chain hustler verse spit rep concrete"
    ),
    "jazz": _words(
        "saxophone smoke speakeasy midnight club trumpet blue swing bourbon cigarette lounge "
        "piano upright brush improvise cool note avenue martini bebop"
    ),
    "classical": _words(
        "sonata symphony cathedral violin aria requiem overture prelude harp cello "
        "chorus organ marble candle hymn palace opus nocturne adagio chapel"
    ),
    "electronic": _words(
        "synth pulse laser neon circuit signal bassline strobe machine digital wave "
        "voltage grid loop frequency sequence drop rave orbit code"
    ),
    "country": _words(
        "truck whiskey porch dirt barn cowboy river boots tractor fence prairie rodeo "
        "pickup dusty creek harvest farm saddle honky hometown"
    ),
    "metal": _words(
        "blood iron steel abyss doom skull chaos throne demon inferno darkness battle "
        "black blade venom grave hammer serpent ash wrath"
    ),
    "folk": _words(
        "meadow fiddle lantern willow orchard cabin mountain valley wanderer ballad banjo "
        "oak spring sparrow hearth cradle pine barley tale acoustic"
    ),
    "r&b": _words(
        "silk groove velvet slow body touch honey smooth bedroom soul caramel satin rhythm "
        "whisper lover vibe candlelight falsetto tender sway"
    ),
}
MOOD_WORDS = {
    "happy": _words(
        "sunshine smile laugh bright golden shine joy celebrate alive wonderful lucky "
        "sweet high dancing"
    ),
    "sad": _words(
        "tears alone goodbye cold empty broken gone lonely grey miss cry fading lost sorrow"
    ),
    "angry": _words(
        "rage burn scream fight hate break fury destroy enemy revenge shout bitter pain fist"
    ),
    "calm": _words(
        "quiet still breathe gentle ocean peace drift soft float easy breeze dawn hush rest"
    ),
    "romantic": _words(
        "love darling forever hold embrace desire yours sweetheart moonlight together "
        "beautiful adore kiss devotion"
    ),
    "nostalgic": _words(
        "remember yesterday old photograph childhood memory back again years letter "
        "faded once younger used"
    ),
}
COMMON_WORDS = _words(
    "i you we me my your the a and in on of to with all oh yeah night day time way "
    "know feel never go come now just like this that"
)
FIRST_NAMES = _words(
    "Ada Ben Cleo Dario Elena Finn Greta Hugo Iris Jonas Kira Leo Maya Nico Olga "
    "Pablo Quinn Rosa Sami Tara Umar Vera Wes Yuki Zane Amara Bo Cato Dina Emil"
)
LAST_NAMES = _words(
    "Abbott Baker Castillo Dumont Ellis Fischer Garcia Hayes Ito Jensen Kowalski Larsen "
    "Moreau Novak Okafor Petrov Rossi Silva Tanaka Vance Weber Xu Young Zimmer"
)
ADJECTIVES = _words(
    "Electric Silent Golden Broken Velvet Midnight Crimson Hollow Lucky Wild Neon Paper "
    "Iron Crystal Lonely Burning Frozen Hidden Restless Secret"
)
NOUNS = _words(
    "Wolves Pilots Echoes Rivers Foxes Satellites Ghosts Kings Sparrows Machines Lanterns "
    "Tigers Dreamers Strangers Mirrors Comets Shadows Saints Giants Oceans"
)
ARTIST_NAME_STYLES = {
    "any": ("{first} {last}", "The {adj} {noun}"),
    "jazz": ("{first} {last} Quartet", "{first} {last} Trio"),
    "classical": ("{last} Ensemble", "{first} {last}", "{last} Chamber Orchestra"),
    "hip-hop": ("Lil {first}", "MC {noun}", "{adj} {first}"),
    "electronic": ("DJ {first}", "{adj}{noun}"),
    "country": ("{first} {last} & the {noun}",),
    "metal": ("{adj} {noun}", "{noun} of {adj} {noun}"),
}
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "MX", "JP", "KR", "IN", "SE", "NG", "CA", "AU", "ES")
COUNTRY_SHARE = np.array([24, 9, 8, 6, 9, 5, 6, 4, 8, 3, 4, 4, 4, 6]) / 100
# Mean and spread of song length in seconds, per genre (same order as GENRES).
DURATION_MEAN_SD = (
    (230, 50),
    (205, 35),
    (215, 45),
    (320, 90),
    (380, 120),
    (280, 80),
    (210, 35),
    (290, 80),
    (225, 50),
    (230, 40),
)
# When sessions start (UTC hour): commute, lunch and, most of all, evenings.
HOUR_SHARE = np.array([2, 1, 1, 1, 1, 1, 2, 4, 6, 5, 4, 4, 5, 5, 4, 4, 5, 7, 8, 9, 9, 8, 6, 4])
HOUR_SHARE = HOUR_SHARE / HOUR_SHARE.sum()

POPULARITY_EXPONENT = 0.6  # Zipf exponent of song popularity by rank
TASTE_CONCENTRATION = 3.0  # low: most listeners love two or three genres, not all ten
FAVOURITE_ARTIST_BOOST = 6.0
LYRICS_MISSING_SHARE = 0.05
SKIP_MAX_S = 29  # a skip is a playback stopped before 30 s (settings.play_min_seconds)
DAY_MS = 86_400_000
LISTEN, SKIP, COMPLETE = (ACTIONS.index(a) for a in ("listen", "skip", "complete"))
_WORLD_STREAM, _HISTORY_STREAM = 1, 2  # independent random streams from one seed


@dataclass(frozen=True)
class Size:
    """How big a world is and how much its listeners listen."""

    artists: int
    songs: int
    users: int
    days: int
    sessions_per_user_day: float


SIZES = {
    "small": Size(artists=40, songs=300, users=60, days=14, sessions_per_user_day=2.5),
    "default": Size(artists=300, songs=3_000, users=1_000, days=90, sessions_per_user_day=0.8),
    "large": Size(artists=2_000, songs=20_000, users=20_000, days=90, sessions_per_user_day=0.35),
}


@dataclass
class Taste:
    """What one listener likes; hidden from the catalog, known to the history generator."""

    genre_weights: dict[str, float]
    favourite_artists: list[str]
    sessions_per_day: float


@dataclass
class World:
    """A generated catalog (rows keyed by catalog column) and the truth behind its listening.

    ``tastes`` is aligned with ``users``; ``popularity`` (sums to 1) and ``moods`` with ``songs``.
    """

    size: str
    seed: int
    artists: list[dict]
    songs: list[dict]
    users: list[dict]
    tastes: list[Taste]
    popularity: list[float]
    moods: list[str]


def _numbered_ids(prefix: str, count: int, width: int) -> list[str]:
    width = max(width, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _zipf_by_rank(ranks: np.ndarray, exponent: float) -> np.ndarray:
    """Weights (sum 1) that fall off as ``1 / (rank + 1) ** exponent``."""
    weights = 1.0 / (ranks + 1.0) ** exponent
    return weights / weights.sum()


def _pick(rng: np.random.Generator, words) -> str:
    return words[rng.integers(len(words))]


def _artist_name(rng: np.random.Generator, genre: str) -> str:
    styles = ARTIST_NAME_STYLES["any"] + ARTIST_NAME_STYLES.get(genre, ())
    return _pick(rng, styles).format(
        first=_pick(rng, FIRST_NAMES),
        last=_pick(rng, LAST_NAMES),
        adj=_pick(rng, ADJECTIVES),
        noun=_pick(rng, NOUNS),
    )


def _make_artists(rng: np.random.Generator, count: int) -> tuple[list[dict], np.ndarray]:
    genres = rng.choice(len(GENRES), size=count, p=GENRE_SHARE)
    fame = _zipf_by_rank(rng.permutation(count), exponent=1.0)
    ids = _numbered_ids("a", count, 4)
    artists = [
        {"id": artist_id, "name": _artist_name(rng, GENRES[g]), "genre": GENRES[g]}
        for artist_id, g in zip(ids, genres.tolist(), strict=True)
    ]
    return artists, fame


def _song_title(rng: np.random.Generator, genre: str, mood: str) -> str:
    words = GENRE_WORDS[genre] + MOOD_WORDS[mood]
    pattern = _pick(rng, ("{0}", "{0} {1}", "The {0}", "{0} of {1}", "{0} {1} {2}"))
    return pattern.format(*(_pick(rng, words) for _ in range(3))).title()


def _lyrics(rng: np.random.Generator, genre: str, mood: str) -> str | None:
    """Lines mixing genre words, mood words and filler, so text embeddings carry both."""
    if rng.random() < LYRICS_MISSING_SHARE:
        return None
    vocabularies = (GENRE_WORDS[genre], MOOD_WORDS[mood], COMMON_WORDS)
    lines = []
    for _ in range(int(rng.integers(4, 9))):
        sources = rng.choice(3, size=int(rng.integers(5, 9)), p=[0.4, 0.3, 0.3])
        words = [_pick(rng, vocabularies[s]) for s in sources.tolist()]
        lines.append(" ".join(words).capitalize())
    return "\n".join(lines)


def _song_duration(rng: np.random.Generator, genre: str) -> int:
    if rng.random() < 0.01:
        return int(rng.integers(15, 30))  # interludes and intros
    mean, sd = DURATION_MEAN_SD[GENRES.index(genre)]
    return int(np.clip(rng.normal(mean, sd), 90, 420))


def _song_genre_and_mood(rng: np.random.Generator, artist_genre: str) -> tuple[str, str]:
    # A few crossover songs, so a song's genre is not always its artist's.
    genre = _pick(rng, GENRES) if rng.random() < 0.05 else artist_genre
    leaning = GENRE_MOOD.get(genre)
    mood = leaning if leaning and rng.random() < 0.4 else _pick(rng, MOODS)
    return genre, mood


def _releases(rng: np.random.Generator, song_count: int) -> list[tuple[int, int]]:
    """(release index, year) per song of one artist: albums of 6-12 songs, some singles."""
    year = int(rng.integers(1965, 2023))
    releases: list[tuple[int, int]] = []
    release = 0
    while len(releases) < song_count:
        length = 1 if rng.random() < 0.2 else int(rng.integers(6, 13))
        releases += [(release, year)] * min(length, song_count - len(releases))
        release += 1
        year = min(year + int(rng.integers(1, 4)), 2025)
    return releases


def _artist_songs(rng: np.random.Generator, artist: dict, count: int) -> tuple[list, list]:
    """Song rows (without ids) and moods of one artist's discography."""
    rows, moods = [], []
    releases = _releases(rng, count)
    album_names = {r: _song_title(rng, artist["genre"], _pick(rng, MOODS)) for r, _ in releases}
    album_sizes = Counter(r for r, _ in releases)
    for release, year in releases:
        genre, mood = _song_genre_and_mood(rng, artist["genre"])
        rows.append(
            {
                "title": _song_title(rng, genre, mood),
                "artist_id": artist["id"],
                "album": album_names[release] if album_sizes[release] > 1 else None,
                "genre": genre,
                "duration_s": _song_duration(rng, genre),
                "release_date": date(
                    year, int(rng.integers(1, 13)), int(rng.integers(1, 29))
                ).isoformat(),
                "image_url": None,
                "audio_url": None,
                "lyrics": _lyrics(rng, genre, mood),
            }
        )
        moods.append(mood)
    return rows, moods


def _make_songs(rng, count: int, artists: list[dict], fame: np.ndarray):
    """Songs grouped by artist (every artist has one), popularity Zipf-like and led by fame."""
    if count < len(artists):
        raise ValueError("a world needs at least one song per artist")
    prolific = np.sqrt(fame) / np.sqrt(fame).sum()
    extra = rng.choice(len(artists), size=count - len(artists), p=prolific)
    per_artist = np.bincount(extra, minlength=len(artists)) + 1
    rows, moods = [], []
    for artist, n in zip(artists, per_artist.tolist(), strict=True):
        artist_rows, artist_moods = _artist_songs(rng, artist, n)
        rows += artist_rows
        moods += artist_moods
    ids = _numbered_ids("s", count, 5)
    songs = [{"id": song_id, **row} for song_id, row in zip(ids, rows, strict=True)]
    owner = np.repeat(np.arange(len(artists)), per_artist)
    hit_score = np.sqrt(fame[owner]) * rng.lognormal(0.0, 1.0, size=count)
    ranks = np.empty(count, dtype=np.int64)
    ranks[np.argsort(-hit_score, kind="stable")] = np.arange(count)
    return songs, _zipf_by_rank(ranks, POPULARITY_EXPONENT).tolist(), moods


def _make_taste(rng, size: Size, artists_by_genre: dict, fame: np.ndarray, artist_ids) -> Taste:
    raw = rng.dirichlet(TASTE_CONCENTRATION * GENRE_SHARE)
    # A floor so every listener sometimes meets every genre (and mostly skips it).
    weights = 0.95 * raw + 0.05 / len(GENRES)
    top_genres = np.argsort(-weights, kind="stable")[:2]
    candidates = np.concatenate([artists_by_genre[g] for g in top_genres.tolist()])
    chosen = []
    if len(candidates):
        # Fans spread over well-known artists, not all onto the single most famous one.
        appeal = np.sqrt(fame[candidates])
        p = appeal / appeal.sum()
        k = min(3, len(candidates))
        chosen = rng.choice(candidates, size=k, replace=False, p=p).tolist()
    return Taste(
        genre_weights={g: round(float(w), 6) for g, w in zip(GENRES, weights, strict=True)},
        favourite_artists=[artist_ids[i] for i in chosen],
        sessions_per_day=round(size.sessions_per_user_day * float(rng.lognormal(-0.18, 0.6)), 6),
    )


def _user_row(rng: np.random.Generator, user_id: str, taste: Taste) -> dict:
    ranked = sorted(GENRES, key=lambda g: -taste.genre_weights[g])
    onboarding = [] if rng.random() < 0.15 else ranked[: int(rng.integers(1, 4))]
    name = f"{_pick(rng, FIRST_NAMES).lower()}_{_pick(rng, NOUNS).lower()}{rng.integers(100)}"
    return {
        "id": user_id,
        "display_name": name,
        "country": COUNTRIES[int(rng.choice(len(COUNTRIES), p=COUNTRY_SHARE))],
        "onboarding_genres": onboarding,
    }


def _make_users(rng, size: Size, artists: list[dict], fame: np.ndarray):
    genre_of = np.array([GENRES.index(a["genre"]) for a in artists])
    by_genre = {g: np.flatnonzero(genre_of == g) for g in range(len(GENRES))}
    artist_ids = [a["id"] for a in artists]
    users, tastes = [], []
    for user_id in _numbered_ids("u", size.users, 5):
        taste = _make_taste(rng, size, by_genre, fame, artist_ids)
        users.append(_user_row(rng, user_id, taste))
        tastes.append(taste)
    return users, tastes


def generate_world(size_name: str, seed: int = DEFAULT_SEED) -> World:
    """Generate the artists, songs and users of a named size, with their hidden truth.

    Parameters
    ----------
    size_name : str
        A key of ``SIZES``: ``"small"`` (tests), ``"default"`` (``make up``), ``"large"``.
    seed : int
        The same ``(size_name, seed)`` always gives an equal world.
    """
    if size_name not in SIZES:
        raise ValueError(f"unknown size {size_name!r}; choose one of {', '.join(SIZES)}")
    size = SIZES[size_name]
    rng = np.random.default_rng([seed, _WORLD_STREAM])
    artists, fame = _make_artists(rng, size.artists)
    songs, popularity, moods = _make_songs(rng, size.songs, artists, fame)
    users, tastes = _make_users(rng, size, artists, fame)
    return World(size_name, seed, artists, songs, users, tastes, popularity, moods)


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


def _taste_match(model: ListeningModel, user: int, songs: np.ndarray) -> np.ndarray:
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


def _outcomes(match: np.ndarray, totals: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Skip songs that miss the taste, finish songs that fit; seconds heard per playback."""
    p_skip = 0.55 - 0.45 * match
    p_complete = 0.15 + 0.5 * match
    draw = rng.random(len(match))
    actions = np.where(draw < p_skip, SKIP, np.where(draw < p_skip + p_complete, COMPLETE, LISTEN))
    # A listen stops between 30 s and the end; songs too short for that are heard whole.
    actions = np.where((actions == LISTEN) & (totals <= SKIP_MAX_S + 1), COMPLETE, actions)
    skip_span = np.maximum(np.minimum(SKIP_MAX_S, totals - 1), 1)
    skip_heard = 1 + np.floor(rng.random(len(match)) ** 1.5 * skip_span).astype(np.int64)
    listen_from = SKIP_MAX_S + 1
    listen_heard = listen_from + np.floor(
        rng.random(len(match)) * np.maximum(totals - listen_from, 1)
    ).astype(np.int64)
    heard = np.select([actions == SKIP, actions == LISTEN], [skip_heard, listen_heard], totals)
    return actions, np.minimum(heard, totals)


def playbacks(model: ListeningModel, user: int, count: int, rng) -> Playbacks:
    """``count`` playbacks by ``user``: songs by taste and popularity, then their outcomes."""
    songs = _choose_songs(model, user, count, rng)
    actions, heard = _outcomes(_taste_match(model, user, songs), model.durations[songs], rng)
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


CATALOG_FILES = ("artists", "songs", "users")
TRUTH_FILE = "truth.json"


def write_world(world: World, folder: Path) -> None:
    """Write ``artists.json``, ``songs.json``, ``users.json`` and the hidden ``truth.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in CATALOG_FILES:
        (folder / f"{name}.json").write_text(json.dumps(getattr(world, name), indent=1))
    truth = {
        "size": world.size,
        "seed": world.seed,
        "tastes": [asdict(t) for t in world.tastes],
        "popularity": world.popularity,
        "moods": world.moods,
    }
    (folder / TRUTH_FILE).write_text(json.dumps(truth))


def read_world(folder: Path) -> World:
    """The world ``write_world`` wrote to ``folder``, equal to the one written."""
    folder = Path(folder)
    catalog = {name: json.loads((folder / f"{name}.json").read_text()) for name in CATALOG_FILES}
    truth = json.loads((folder / TRUTH_FILE).read_text())
    return World(
        size=truth["size"],
        seed=truth["seed"],
        tastes=[Taste(**t) for t in truth["tastes"]],
        popularity=truth["popularity"],
        moods=truth["moods"],
        **catalog,
    )


CATALOG_COLUMNS = {
    "artists": ("id", "name", "genre"),
    "songs": (
        "id",
        "title",
        "artist_id",
        "album",
        "genre",
        "duration_s",
        "release_date",
        "image_url",
        "audio_url",
        "lyrics",
    ),
    "users": ("id", "display_name", "country", "onboarding_genres"),
}


def _upsert(cur, table: str, rows: list[dict]) -> int:
    """COPY rows into a temporary table, then upsert only the rows that changed."""
    columns = CATALOG_COLUMNS[table]
    staging = sql.Identifier(f"demo_{table}")
    target = sql.Identifier("catalog", table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur.execute(sql.SQL("drop table if exists pg_temp.{}").format(staging))
    cur.execute(
        sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
            staging, target
        )
    )
    with cur.copy(sql.SQL("copy {} ({}) from stdin").format(staging, names)) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])
    updated = columns[1:]
    assignments = [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updated]
    if table == "songs":
        assignments.append(sql.SQL("updated_at = now()"))
    # Unchanged rows are left alone, so a reload leaves updated_at (and the WAL) quiet.
    cur.execute(
        sql.SQL(
            "insert into {target} as existing ({names}) select {names} from {staging} "
            "on conflict (id) do update set {assignments} "
            "where ({current}) is distinct from ({incoming})"
        ).format(
            target=target,
            names=names,
            staging=staging,
            assignments=sql.SQL(", ").join(assignments),
            current=sql.SQL(", ").join(sql.Identifier("existing", c) for c in updated),
            incoming=sql.SQL(", ").join(sql.Identifier("excluded", c) for c in updated),
        )
    )
    return cur.rowcount


def load_catalog(conn, world: World) -> dict[str, int]:
    """Upsert the world's artists, songs and users into the catalog, in one transaction.

    Idempotent; play counters (``plays_cumulative``, ``plays_7d``) are never touched.

    Parameters
    ----------
    conn : psycopg.Connection
        A psycopg 3 connection to the warehouse.

    Returns
    -------
    dict
        Rows inserted or changed per table.
    """
    changed = {}
    with conn.transaction(), conn.cursor() as cur:
        for table in CATALOG_FILES:  # artists first: songs reference them
            changed[table] = _upsert(cur, table, getattr(world, table))
    return changed
