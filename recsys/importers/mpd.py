"""The Million Playlist Dataset's slice files (``mpd.slice.0-999.json``), read as a stream.

A slice is one JSON object, ``{"info": {...}, "playlists": [...]}``, each playlist

    {"name": "road trip", "collaborative": "false", "pid": 0, "modified_at": 1493424000,
     "num_tracks": 2, "num_albums": 2, "num_followers": 1,
     "tracks": [{"pos": 0, "artist_name": "...", "track_uri": "spotify:track:...",
                 "artist_uri": "spotify:artist:...", "track_name": "...",
                 "album_uri": "spotify:album:...", "duration_ms": 226863,
                 "album_name": "..."}, ...],
     "num_edits": 6, "duration_ms": 11532414, "num_artists": 2}

(``description`` is there on some playlists; ``collaborative`` is the string "true" or
"false" in the dataset, a JSON boolean is accepted too).

``read_slice`` yields the playlists one at a time (the file is parsed incrementally, one
playlist held at a time, none larger than ``MAX_PLAYLIST_BYTES``) and a ``RowError`` for
each bad playlist, naming the file, the playlist's index and pid, and the field
(``tracks[3].duration_ms``). The checks: every field above of the types shown (the
``num_*`` and ``duration_ms`` counts are optional: the challenge set leaves them out),
``pos`` 0, 1, 2, ... in order, ``num_tracks`` the number of tracks, track URIs of the form
``spotify:track:<22 letters or digits>``, a name of 1 to 200 characters (not blank) and a
description of at most 2,000 (what ``catalog.playlists`` holds). A track repeated in a
playlist is kept once (its first position) and counted.

``resolve`` then finds each track's catalog song with the history importers' matching
(``matching.match``: ``track_uri`` against ``catalog.songs.spotify_uri``, else the normalised
artist and title), and, with ``create_missing``, gives an unmatched track the stable id of
the song to add (genre 'unknown', its length from ``duration_ms``), as
``import history --create-missing`` does. Without it, unmatched tracks are left out of their
playlists and counted. Pure: no I/O besides reading the file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import ijson
import pyarrow as pa

from recsys.importers.json_rows import FieldProblem, get, integer, text
from recsys.importers.listens import FileError, RowError
from recsys.importers.matching import CatalogIndex, match
from recsys.importers.reading import Source, refuse_empty

# The dataset's playlists hold at most 250 tracks (about 100 KB); ours at most 10,000 songs.
MAX_PLAYLIST_BYTES = 8 << 20
MAX_TRACKS = 10_000
MAX_NAME_CHARS = 200  # catalog.playlists.name
MAX_DESCRIPTION_CHARS = 2000  # catalog.playlists.description
TRACK_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}")
TRACK_FIELDS = (
    "pos",
    "artist_name",
    "track_uri",
    "artist_uri",
    "track_name",
    "album_uri",
    "duration_ms",
    "album_name",
)
NUMBERS = ("pos", "duration_ms")
COUNTS = ("num_albums", "num_followers", "num_edits", "duration_ms", "num_artists")


@dataclass(frozen=True)
class Track:
    pos: int
    artist_name: str
    track_name: str
    track_uri: str
    artist_uri: str
    album_uri: str
    album_name: str
    duration_ms: int


@dataclass(frozen=True)
class Playlist:
    """One playlist of a slice, as the file has it; ``index`` is its place in the file's
    ``playlists`` array, ``repeats`` the tracks dropped as repeats of an earlier one."""

    file: str
    index: int
    pid: int
    name: str
    collaborative: bool
    modified_at: int
    num_followers: int | None
    description: str | None
    tracks: tuple[Track, ...]
    repeats: int = 0


@dataclass
class SliceCounts:
    playlists: int = 0
    tracks: int = 0
    repeats: int = 0


def read_slice(source: Source, counts: SliceCounts | None = None) -> Iterator[Playlist | RowError]:
    """The slice's playlists in file order, a RowError in place of each bad one. A file that
    is not a slice (not JSON, cut short, no ``playlists`` array) raises FileError."""
    refuse_empty(source)
    counts = counts if counts is not None else SliceCounts()
    reader = _Reader(source, MAX_PLAYLIST_BYTES)
    events = _Shape(ijson.parse(reader, use_float=True))
    index = 0
    pids: dict[int, int] = {}  # pid -> index of its first playlist
    try:
        for item in ijson.items(events, "playlists.item"):
            reader.mark()
            try:
                playlist = _playlist(source.path, index, item)
                if playlist.pid in pids:
                    raise FieldProblem(
                        "pid", f"{playlist.pid} is already playlists[{pids[playlist.pid]}]'s"
                    )
                pids[playlist.pid] = index
            except FieldProblem as problem:
                yield source.error(_where(index, item), problem.field, problem.reason)
            else:
                counts.playlists += 1
                counts.tracks += len(playlist.tracks)
                counts.repeats += playlist.repeats
                yield playlist
            index += 1
    except _TooLarge:
        raise FileError(
            source.error(
                _where(index, None),
                "(playlist)",
                f"the playlist is longer than {MAX_PLAYLIST_BYTES:,} bytes: not read",
            )
        ) from None
    except ijson.JSONError as err:
        raise FileError(source.error(_where(index, None), "(file)", _json_problem(err))) from None
    except _NotASlice as err:
        raise FileError(source.error("$", "(file)", str(err))) from None
    if not events.saw_playlists:
        raise FileError(
            source.error(
                "$", "playlists", 'missing: an MPD slice is {"info": ..., "playlists": [...]}'
            )
        )


def _json_problem(err: Exception) -> str:
    message = str(err).strip()
    if "premature EOF" in message:
        return "truncated JSON: the file ends inside this playlist"
    if "UTF8" in message or "UTF-8" in message:
        return "not valid UTF-8"
    return f"invalid JSON: {message.splitlines()[0] if message else type(err).__name__}"


def _where(index: int, item) -> str:
    pid = item.get("pid") if isinstance(item, dict) else None
    shown = f" (pid {pid})" if isinstance(pid, int) and not isinstance(pid, bool) else ""
    return f"playlists[{index}]{shown}"


def _playlist(path: str, index: int, item) -> Playlist:
    if not isinstance(item, dict):
        raise FieldProblem("(playlist)", "must be a JSON object")
    pid = integer(item, "pid")
    name = get(item, "name")
    if not isinstance(name, str):
        raise FieldProblem("name", "must be a string")
    if "\x00" in name:
        raise FieldProblem("name", "must not contain a NUL character")
    if not name.strip() or len(name) > MAX_NAME_CHARS:
        raise FieldProblem("name", f"must be 1 to {MAX_NAME_CHARS} characters, not blank")
    collaborative = _boolean(item, "collaborative")
    modified_at = integer(item, "modified_at", unit=" (epoch seconds)")
    for count in COUNTS:
        integer(item, count, required=False)
    description = text(item, "description", required=False)
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise FieldProblem("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters")
    tracks = get(item, "tracks")
    if not isinstance(tracks, list):
        raise FieldProblem("tracks", "must be a JSON array")
    if len(tracks) > MAX_TRACKS:
        raise FieldProblem("tracks", f"has {len(tracks):,} tracks; at most {MAX_TRACKS:,}")
    num_tracks = integer(item, "num_tracks")
    if num_tracks != len(tracks):
        raise FieldProblem("num_tracks", f"is {num_tracks} but the playlist has {len(tracks)}")
    kept, seen = [], set()
    for i, raw in enumerate(tracks):
        track = _track(i, raw)
        if track.track_uri not in seen:
            seen.add(track.track_uri)
            kept.append(track)
    return Playlist(
        path,
        index,
        pid,
        name,
        collaborative,
        modified_at,
        integer(item, "num_followers", required=False),
        description,
        tuple(kept),
        len(tracks) - len(kept),
    )


def _track(i: int, raw) -> Track:
    prefix = f"tracks[{i}]"
    if not isinstance(raw, dict):
        raise FieldProblem(prefix, "must be a JSON object")
    try:
        pos = integer(raw, "pos")
        if pos != i:
            raise FieldProblem("pos", f"is {pos} where {i} was expected (0, 1, 2, ... in order)")
        values = {name: text(raw, name) for name in TRACK_FIELDS if name not in NUMBERS}
        if not TRACK_URI.fullmatch(values["track_uri"]):
            raise FieldProblem("track_uri", f"{values['track_uri']!r} is not spotify:track:<id>")
        duration_ms = integer(raw, "duration_ms", unit=" (milliseconds)")
    except FieldProblem as problem:
        raise FieldProblem(f"{prefix}.{problem.field}", problem.reason) from None
    return Track(pos=pos, duration_ms=duration_ms, **values)


def _boolean(item: dict, name: str) -> bool:
    value = get(item, name)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise FieldProblem(name, 'must be "true" or "false"')


class _TooLarge(Exception):
    pass


class _NotASlice(Exception):
    pass


class _Reader:
    """The file as ijson reads it, refusing to read more than ``limit`` bytes while one
    playlist is being parsed (``mark`` is called as each comes out)."""

    def __init__(self, source: Source, limit: int):
        self.source, self.limit, self.since_mark = source, limit, 0

    def read(self, n: int) -> bytes:
        data = self.source.read(n)
        self.since_mark += len(data)
        if self.since_mark > self.limit + n:
            raise _TooLarge
        return data

    def mark(self) -> None:
        self.since_mark = 0


class _Shape:
    """ijson's parse events, passed on, checking the slice's outer shape as they go: an
    object whose ``playlists`` is an array."""

    def __init__(self, events: Iterable):
        self.events, self.saw_playlists = iter(events), False

    def __iter__(self):
        return self

    def __next__(self):
        prefix, event, value = next(self.events)
        if prefix == "" and event not in ("start_map", "map_key", "end_map"):
            raise _NotASlice(
                'must be a JSON object {"info": ..., "playlists": [...]} (an MPD slice)'
            )
        if prefix == "playlists" and event not in ("start_array", "end_array"):
            raise _NotASlice('"playlists" must be a JSON array')
        if prefix == "playlists" and event == "start_array":
            self.saw_playlists = True
        return prefix, event, value


# -- matching to the catalog ------------------------------------------------------------


@dataclass
class Resolved:
    """Playlists with their songs as catalog song ids (in order, each once), and what did
    not match."""

    playlists: list[tuple[Playlist, list[str]]] = field(default_factory=list)
    matched: int = 0
    created: int = 0  # tracks whose song --create-missing adds
    unmatched: Counter = field(default_factory=Counter)  # (artist, title) -> tracks


def resolve(playlists: list[Playlist], index: CatalogIndex, create_missing: bool) -> Resolved:
    """Each playlist's tracks as catalog songs (``matching.match``); unmatched ones left
    out and counted, or, with ``create_missing``, recorded in ``index.created``. Two tracks
    that are one catalog song are kept once."""
    out = Resolved()
    rows = [(p, t) for p in playlists for t in p.tracks]
    if not rows:
        out.playlists = [(p, []) for p in playlists]
        return out
    batch = pa.table(
        {
            "song_id": pa.nulls(len(rows), pa.string()),
            "recording_mbid": pa.nulls(len(rows), pa.string()),
            "spotify_uri": pa.array([t.track_uri for _, t in rows], pa.string()),
            "artist": pa.array([t.artist_name for _, t in rows], pa.string()),
            "title": pa.array([t.track_name for _, t in rows], pa.string()),
            "total_seconds": pa.array(
                [max(1, round(t.duration_ms / 1000)) for _, t in rows], pa.int32()
            ),
        }
    )
    found = match(batch, index, create_missing)
    songs = found.track_id.to_pylist()
    created = found.created.to_pylist()
    by_playlist: dict[int, dict[str, None]] = {}  # insertion-ordered sets
    for (playlist, track), song, new in zip(rows, songs, created, strict=True):
        if song is None:
            out.unmatched[(track.artist_name, track.track_name)] += 1
            continue
        out.created += bool(new)
        out.matched += not new
        by_playlist.setdefault(id(playlist), {})[song] = None
    out.playlists = [(p, list(by_playlist.get(id(p), {}))) for p in playlists]
    return out
