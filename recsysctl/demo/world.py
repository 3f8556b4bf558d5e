"""The demo world: artists, songs and users shaped like the ``catalog`` tables, and their truth.

Besides the catalog rows, a world holds what the catalog never shows: each listener's taste
(genre weights, favourite artists, how often they listen), each song's popularity and mood.
The same ``(size, seed)`` always gives the same world.

Writes the world as JSON files (``write_world``) and reads only those files back
(``read_world``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from recsysctl.demo.vocabulary import (
    ADJECTIVES,
    ARTIST_NAME_STYLES,
    COMMON_WORDS,
    COUNTRIES,
    COUNTRY_SHARE,
    DURATION_MEAN_SD,
    FIRST_NAMES,
    GENRE_MOOD,
    GENRE_SHARE,
    GENRE_WORDS,
    GENRES,
    LAST_NAMES,
    MOOD_WORDS,
    MOODS,
    NOUNS,
)

DEFAULT_SEED = 7
POPULARITY_EXPONENT = 0.6  # Zipf exponent of song popularity by rank
TASTE_CONCENTRATION = 3.0  # low: most listeners love two or three genres, not all ten
LYRICS_MISSING_SHARE = 0.05
# Independent random streams from one seed: the world draws from 1, the history from 2.
_WORLD_STREAM = 1


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
