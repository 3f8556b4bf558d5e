"""Which catalog song an imported listen is: by id first, then by normalised artist and title.

Ids: a recording MBID matches ``catalog.songs.mbid``, a Spotify track URI
``catalog.songs.spotify_uri``, a generic CSV's song column ``catalog.songs.id``. Otherwise
the normalised (artist, title) pair matches a song's; where the catalog holds several songs
with one normalised pair, the smallest id wins, so the choice never changes between runs.

Normalising (``normalise``): Unicode NFKC, lower case (ß as ss, & as and), any "feat." /
"ft." / "featuring" part dropped, accents stripped, apostrophes dropped, every other run of
punctuation or white space one space, trimmed: "Lumi Karvö feat. Someone" and "lumi karvo"
match.

The work is vectorised over each batch's distinct values: a Python dict lookup per distinct
id or name, Arrow kernels for the rest. Pure: the catalog comes in as rows (``CatalogIndex``).

>>> normalise_one("Sigur Rós (feat. A Choir)")
'sigur ros'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Songs --create-missing adds without a length in the file get this one (seconds).
DEFAULT_SONG_SECONDS = 210
UNKNOWN_GENRE = "unknown"
KEY_SEPARATOR = "\x1f"
NAME_CACHE_SIZE = 100_000  # distinct tracks remembered between batches: about 20 MB
_FEATURING = r"^(.+?)\s*[(\[]?\s*\b(?:feat|ft|featuring)\b\.?\s.*$"


def normalise(texts: pa.Array) -> pa.Array:
    """Each text normalised for matching (see the module's docstring); nulls stay null."""
    out = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    out = pc.replace_substring(pc.replace_substring(out, "ß", "ss"), "&", " and ")
    out = pc.replace_substring_regex(out, _FEATURING, r"\1")
    out = pc.replace_substring_regex(pc.utf8_normalize(out, "NFKD"), r"\p{Mn}+", "")
    out = pc.replace_substring_regex(out, r"['’`]", "")
    out = pc.replace_substring_regex(out, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(out)


def normalise_one(text: str) -> str:
    return normalise(pa.array([text], pa.string()))[0].as_py()


def name_keys(artists: pa.Array, titles: pa.Array) -> pa.Array:
    """The normalised "artist<US>title" key of each pair; null where either is missing or
    normalises to nothing."""
    artist, title = normalise(artists), normalise(titles)
    empty = pc.or_(pc.equal(artist, ""), pc.equal(title, ""))
    joined = pc.binary_join_element_wise(artist, title, KEY_SEPARATOR)
    return pc.if_else(empty, pa.scalar(None, pa.string()), joined)


def stable_id(prefix: str, key: str) -> str:
    """A catalog id derived from a normalised key: the same key, the same id, every run."""
    return f"{prefix}-{hashlib.sha1(key.encode()).hexdigest()[:16]}"


@dataclass
class CatalogIndex:
    """The catalog as lookups: song ids, MBIDs, Spotify URIs and name keys to song id; song
    id to length; normalised artist name to artist id."""

    seconds: dict[str, int]
    song_ids: dict[str, str]
    by_mbid: dict[str, str]
    by_spotify_uri: dict[str, str]
    by_name: dict[str, str]
    artists: dict[str, str]
    created: dict[str, CreatedSong] = field(default_factory=dict)
    # raw "artist<US>title" -> its name key, for the batches to come (at most NAME_CACHE_SIZE)
    name_key_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(cls, songs: list[tuple], artists: list[tuple]) -> CatalogIndex:
        """``songs``: (id, title, artist name, mbid, spotify_uri, duration_s);
        ``artists``: (id, name)."""
        ids = [s[0] for s in songs]
        keys = name_keys(
            pa.array([s[2] for s in songs], pa.string()),
            pa.array([s[1] for s in songs], pa.string()),
        ).to_pylist()
        by_name: dict[str, str] = {}
        for key, song in sorted(zip(keys, ids, strict=True), key=lambda p: (p[0] or "", p[1])):
            if key is not None:
                by_name.setdefault(key, song)
        artist_keys = normalise(pa.array([a[1] for a in artists], pa.string())).to_pylist()
        by_artist: dict[str, str] = {}
        for key, artist in sorted(zip(artist_keys, [a[0] for a in artists], strict=True)):
            if key:
                by_artist.setdefault(key, artist)
        return cls(
            seconds={s[0]: s[5] for s in songs},
            song_ids={s[0]: s[0] for s in songs},
            by_mbid={s[3].lower(): s[0] for s in songs if s[3]},
            by_spotify_uri={s[4]: s[0] for s in songs if s[4]},
            by_name=by_name,
            artists=by_artist,
        )


@dataclass(frozen=True)
class CreatedSong:
    """A song --create-missing adds: its artist found by name in the catalog or created."""

    song_id: str
    title: str
    artist_id: str
    artist_name: str
    artist_exists: bool
    duration_s: int


@dataclass(frozen=True)
class Matches:
    """Per row of a batch: the song (null: unmatched), its length in the catalog, the
    normalised name key, and whether the song is one --create-missing adds."""

    track_id: pa.Array
    catalog_seconds: pa.Array
    name_key: pa.Array
    created: pa.Array


def _lookup(values: pa.Array, table: dict, type_: pa.DataType = pa.string()) -> pa.Array:
    """``table[value]`` for each value (null when absent), one lookup per distinct value."""
    if values.null_count == len(values) or not table:
        return pa.nulls(len(values), type_)
    encoded = pc.dictionary_encode(values)
    found = pa.array([table.get(v) for v in encoded.dictionary.to_pylist()], type_)
    return pc.take(found, encoded.indices)


def match(batch: pa.Table, index: CatalogIndex, create_missing: bool) -> Matches:
    """Find each listen of ``batch`` (listens.LISTEN_SCHEMA) in ``index``; with
    ``create_missing``, an unmatched listen with a name gets the stable id of the song to
    create (recorded in ``index.created``)."""
    track = _lookup(batch["song_id"].combine_chunks(), index.song_ids)
    mbids = pc.utf8_lower(batch["recording_mbid"].combine_chunks())
    track = pc.coalesce(track, _lookup(mbids, index.by_mbid))
    track = pc.coalesce(track, _lookup(batch["spotify_uri"].combine_chunks(), index.by_spotify_uri))
    raw = pc.binary_join_element_wise(batch["artist"], batch["title"], KEY_SEPARATOR)
    encoded = pc.dictionary_encode(raw.combine_chunks())
    key_list = _cached_name_keys(encoded.dictionary, index.name_key_cache)
    keys = pa.array(key_list, pa.string())
    by_name = pa.array([index.by_name.get(k) for k in key_list], pa.string())
    name_key = pc.take(keys, encoded.indices)
    track = pc.coalesce(track, pc.take(by_name, encoded.indices))
    created = pa.nulls(len(track), pa.string())
    if create_missing:
        created = pc.take(_created_ids(batch, encoded, key_list, index), encoded.indices)
        created = pc.if_else(pc.is_null(track), created, pa.scalar(None, pa.string()))
        track = pc.coalesce(track, created)
    seconds = _lookup(track, index.seconds, pa.int32())
    if index.created:
        lengths = {s: c.duration_s for s, c in index.created.items()}
        seconds = pc.coalesce(seconds, _lookup(created, lengths, pa.int32()))
    return Matches(track, seconds, name_key, pc.is_valid(created))


def _cached_name_keys(raws: pa.Array, cache: dict) -> list:
    """``name_keys`` of each distinct raw "artist<US>title" of a batch; the pairs of earlier
    batches are looked up, not normalised again (a history repeats its tracks)."""
    raw_list = raws.to_pylist()
    missing = [raw for raw in raw_list if raw not in cache]
    if missing:
        if len(cache) + len(missing) > NAME_CACHE_SIZE:
            cache.clear()
        pairs = pc.split_pattern(pa.array(missing, pa.string()), KEY_SEPARATOR, max_splits=1)
        new = name_keys(pc.list_element(pairs, 0), pc.list_element(pairs, 1)).to_pylist()
        cache.update(zip(missing, new, strict=True))
    return [cache[raw] for raw in raw_list]


def _created_ids(batch, encoded, key_list: list, index: CatalogIndex) -> pa.Array:
    """Per distinct raw (artist, title) of the batch: the id of the song to create for it
    (null when it has no name key or the catalog has the song); new ones are recorded with
    the names and length of their first row."""
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    _, first_rows = np.unique(codes, return_index=True)
    first_row = dict(zip(codes[first_rows].tolist(), first_rows.tolist(), strict=True))
    ids = []
    for code, key in enumerate(key_list):
        if key is None or key in index.by_name:
            ids.append(None)
            continue
        song_id = stable_id("song", key)
        ids.append(song_id)
        if song_id not in index.created:
            row = first_row[code]
            artist_key = key.split(KEY_SEPARATOR)[0]
            artist_id = index.artists.get(artist_key)
            length = batch["total_seconds"][row].as_py()
            index.created[song_id] = CreatedSong(
                song_id=song_id,
                title=batch["title"][row].as_py().strip(),
                artist_id=artist_id or stable_id("artist", artist_key),
                artist_name=batch["artist"][row].as_py().strip(),
                artist_exists=artist_id is not None,
                duration_s=length if length else DEFAULT_SONG_SECONDS,
            )
    return pa.array(ids, pa.string())
