"""Matching imported listens to catalog songs, the plays they become, and their event ids.
No services."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from recsys.importers.history_read import EVENT_NAMESPACE, event_ids, resolve_plays
from recsys.importers.listens import LISTEN_SCHEMA
from recsys.importers.matching import (
    DEFAULT_SONG_SECONDS,
    CatalogIndex,
    match,
    normalise_one,
    stable_id,
)

SONGS = [  # id, title, artist name, mbid, spotify_uri, duration_s
    ("trk-1", "Paper Lanterns", "The Quiet Ferns", "1A2B-MBID", None, 214),
    ("trk-2", "Midnight Static", "Neon Harbor Club", None, "spotify:track:nh1", 276),
    ("trk-3", "Lighthouse Keeper's Day Off", "Okonjo and the Tidewater", None, None, 287),
    ("trk-4", "Midnight Static", "Neon Harbor Club", None, None, 280),  # same names, later id
    ("trk-5", "Jingle", "Short Takes", None, None, 20),
]
ARTISTS = [("a-ferns", "The Quiet Ferns"), ("a-neon", "Neon Harbor Club")]


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("Sigur Rós", "sigur ros"),
        ("ＡＢＣ  Déjà-Vu!!", "abc deja vu"),
        ("Tunnel Lights (feat. Lumi Karvo)", "tunnel lights"),
        ("Neon Harbor Club ft. Someone", "neon harbor club"),
        ("Song [Featuring Y]", "song"),
        ("Feat of Strength", "feat of strength"),  # a title that starts so is left whole
        ("Left Behind", "left behind"),
        ("Okonjo & the Tidewater", "okonjo and the tidewater"),
        ("Lighthouse Keeper’s Day Off", "lighthouse keepers day off"),
        ("Straße", "strasse"),
    ],
)
def test_normalise(text, normalised):
    assert normalise_one(text) == normalised


def batch(**columns) -> pa.Table:
    n = len(next(iter(columns.values())))
    full = {name: columns.get(name, [None] * n) for name in LISTEN_SCHEMA.names}
    return pa.Table.from_pydict(full, LISTEN_SCHEMA)


def test_ids_first_then_names():
    index = CatalogIndex.from_rows(SONGS, ARTISTS)
    listens = batch(
        recording_mbid=["1a2b-mbid", None, None, None, None, "NOT-IN-CATALOG"],
        spotify_uri=[None, "spotify:track:nh1", None, None, None, None],
        song_id=[None, None, "trk-3", None, None, None],
        artist=["x", "x", None, "neon harbor club", "Okonjo & the Tidewater", "Nobody"],
        title=["y", "y", None, "MIDNIGHT STATIC", "Lighthouse Keepers Day Off", "Nothing"],
    )
    found = match(listens, index, create_missing=False)
    # MBIDs match whatever the case; the same names twice: the smallest id wins
    assert found.track_id.to_pylist() == ["trk-1", "trk-2", "trk-3", "trk-2", "trk-3", None]
    assert found.catalog_seconds.to_pylist() == [214, 276, 287, 276, 287, None]
    assert found.name_key.to_pylist()[3] == "neon harbor club\x1fmidnight static"
    assert index.created == {}


def test_create_missing_gives_stable_ids_and_reuses_known_artists():
    index = CatalogIndex.from_rows(SONGS, ARTISTS)
    listens = batch(
        artist=["The Quiet Ferns", "Copper Finch", "copper finch"],
        title=["New Song", "Marble Stairs", "Marble Stairs!"],
        total_seconds=[None, 251, None],
    )
    found = match(listens, index, create_missing=True)
    new_ferns = stable_id("song", "the quiet ferns\x1fnew song")
    finch = stable_id("song", "copper finch\x1fmarble stairs")
    assert found.track_id.to_pylist() == [new_ferns, finch, finch]
    assert found.created.to_pylist() == [True, True, True]
    assert found.catalog_seconds.to_pylist() == [DEFAULT_SONG_SECONDS, 251, 251]
    ferns, marble = index.created[new_ferns], index.created[finch]
    assert (ferns.artist_id, ferns.artist_exists) == ("a-ferns", True)
    assert marble.artist_id == stable_id("artist", "copper finch") and not marble.artist_exists
    assert (marble.title, marble.artist_name, marble.duration_s) == (
        "Marble Stairs",
        "Copper Finch",
        251,
    )


def test_a_scrobble_is_one_play_of_the_whole_song():
    listens = batch(
        action=["listen", "listen", "skip", "listen", "complete"],
        seconds=[None, None, 12, 400, None],
        total_seconds=[None, None, None, None, 180],
    )
    catalog = pa.array([214, 20, 214, 214, 300], pa.int32())
    action, seconds, total = resolve_plays(listens, catalog, play_min=30)
    assert action.to_pylist() == ["listen", "complete", "skip", "listen", "complete"]
    assert seconds.to_pylist() == [214, 20, 12, 214, 180]  # never more than the length
    assert total.to_pylist() == [214, 20, 214, 214, 180]  # the row's length first


def test_event_ids_are_uuid5_of_the_listen():
    ids = event_ids(
        "lastfm",
        pa.array(["user_000001", "user_000001"]),
        pa.array([1241478537000, 1241478537000], pa.int64()),
        pa.array(["velvet abacus\x1fgravel and sun", "velvet abacus\x1fgravel and sun!"]),
    ).to_pylist()
    expected = str(
        uuid.uuid5(
            EVENT_NAMESPACE, "lastfm|user_000001|1241478537000|velvet abacus\x1fgravel and sun"
        )
    )
    assert ids[0] == expected and uuid.UUID(ids[1]).version == 5 and ids[0] != ids[1]
    # fixed forever: an imported listen's id never changes between versions
    assert ids[0] == "fa2438e4-9f11-5f65-82d8-0cf5a513f34a"
