"""Playlists made by the demo world's listeners, written as a Million Playlist Dataset slice.

Each playlist has a theme, as people's playlists do: one listener (its owner), one genre
drawn from their taste and one mood. Its songs are drawn without repeats from the genre's
songs, by popularity, three times as likely when the song has the playlist's mood and six
times when its artist is one of the owner's favourites; a playlist holds 8 to 80 songs
(most 15 to 40) in the order drawn. The theme names it ("calm jazz", "jazz for calm days").

The slice has the dataset's exact shape (``recsys.importers.mpd``): track URIs are
``spotify:track:`` and 22 letters or digits derived from the song's id (so every run gives the
same ones), artist and album URIs likewise, ``modified_at`` spread over 2017. The same
``(world, count, seed)`` always gives the same file.

    python -m recsysctl demo playlists --out playlists.json [--size default] [--count 2000]
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from recsysctl.demo.vocabulary import GENRES, MOODS
from recsysctl.demo.world import World

MOOD_BOOST = 3.0
FAVOURITE_BOOST = 6.0
MIN_SONGS, MAX_SONGS = 8, 80
NAME_STYLES = ("{mood} {genre}", "{genre} for {mood} days", "{mood} {genre} mix", "my {genre}")
MODIFIED_FROM = 1483228800  # 2017-01-01
_PLAYLIST_STREAM = 3  # the world draws from 1, the history from 2
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def uri(kind: str, key: str) -> str:
    """``spotify:<kind>:`` and 22 base-62 characters derived from ``key``."""
    number = int.from_bytes(hashlib.sha256(f"{kind}:{key}".encode()).digest()[:17], "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return f"spotify:{kind}:{''.join(chars)}"


def generate_slice(world: World, count: int, seed: int = 7) -> dict:
    """``count`` playlists of ``world``'s listeners, as an MPD slice (a JSON-ready dict)."""
    rng = np.random.default_rng([seed, _PLAYLIST_STREAM])
    artists = {a["id"]: a for a in world.artists}
    popularity = np.asarray(world.popularity)
    genre = np.array([GENRES.index(s["genre"]) for s in world.songs])
    mood = np.array([MOODS.index(m) for m in world.moods])
    artist_of = np.array([s["artist_id"] for s in world.songs])
    playlists = []
    for pid in range(count):
        owner = int(rng.integers(len(world.users)))
        taste = world.tastes[owner]
        weights = np.array([taste.genre_weights[g] for g in GENRES])
        theme_genre = int(rng.choice(len(GENRES), p=weights / weights.sum()))
        theme_mood = int(rng.integers(len(MOODS)))
        pool = np.flatnonzero(genre == theme_genre)
        if len(pool) == 0:
            pool = np.arange(len(world.songs))
        appeal = popularity[pool] * np.where(mood[pool] == theme_mood, MOOD_BOOST, 1.0)
        favourite = np.isin(artist_of[pool], taste.favourite_artists)
        appeal = appeal * np.where(favourite, FAVOURITE_BOOST, 1.0)
        size = int(np.clip(rng.lognormal(np.log(25), 0.5), MIN_SONGS, MAX_SONGS))
        size = min(size, len(pool))
        chosen = rng.choice(pool, size=size, replace=False, p=appeal / appeal.sum())
        style = NAME_STYLES[int(rng.integers(len(NAME_STYLES)))]
        name = style.format(mood=MOODS[theme_mood], genre=GENRES[theme_genre])
        modified = MODIFIED_FROM + int(rng.integers(365 * 86400))
        playlists.append(
            _playlist(pid, name, modified, [world.songs[i] for i in chosen], artists, rng)
        )
    return {
        "info": {
            "generated_on": f"demo world {world.size}, seed {world.seed}",
            "slice": f"0-{count - 1}",
            "version": "v1",
        },
        "playlists": playlists,
    }


def _playlist(pid: int, name: str, modified: int, songs: list[dict], artists, rng) -> dict:
    tracks = [
        {
            "pos": pos,
            "artist_name": artists[song["artist_id"]]["name"],
            "track_uri": uri("track", song["id"]),
            "artist_uri": uri("artist", song["artist_id"]),
            "track_name": song["title"],
            "album_uri": uri("album", f"{song['artist_id']}/{song['album'] or song['id']}"),
            "duration_ms": song["duration_s"] * 1000,
            "album_name": song["album"] or song["title"],
        }
        for pos, song in enumerate(songs)
    ]
    return {
        "name": name,
        "collaborative": "false",
        "pid": pid,
        "modified_at": modified,
        "num_tracks": len(tracks),
        "num_albums": len({t["album_uri"] for t in tracks}),
        "num_followers": int(rng.geometric(0.5)),
        "tracks": tracks,
        "num_edits": 1 + int(rng.integers(len(tracks))),
        "duration_ms": sum(t["duration_ms"] for t in tracks),
        "num_artists": len({t["artist_uri"] for t in tracks}),
    }


def write_slice(data: dict, path: Path) -> None:
    """Write the slice as the dataset does: one JSON document, indented."""
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
