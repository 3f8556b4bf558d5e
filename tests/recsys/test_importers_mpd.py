"""The Million Playlist Dataset slice reader and its matching to the catalog: hand-written
slices in the dataset's shape (tests/recsys/mpd_slices/). No services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys.importers.listens import FileError, RowError
from recsys.importers.matching import CatalogIndex, stable_id
from recsys.importers.mpd import Playlist, SliceCounts, read_slice, resolve
from recsys.importers.reading import Source

SLICES = Path(__file__).parent / "mpd_slices"


def read(path) -> tuple[list[Playlist], list[tuple[str, str, str]], SliceCounts]:
    counts = SliceCounts()
    playlists, errors = [], []
    with Source(str(path)) as source:
        for piece in read_slice(source, counts):
            if isinstance(piece, RowError):
                errors.append((piece.where, piece.field, piece.reason))
            else:
                playlists.append(piece)
    return playlists, errors, counts


def file_error(path) -> tuple[str, str, str]:
    with pytest.raises(FileError) as caught:
        read(path)
    error = caught.value.error
    assert error.file == str(path)
    return error.where, error.field, error.reason


def test_a_slice_is_read_as_the_file_has_it():
    raw = json.loads((SLICES / "mpd.slice.0-2.json").read_text())["playlists"]
    playlists, errors, counts = read(SLICES / "mpd.slice.0-2.json")
    assert errors == []
    assert [p.pid for p in playlists] == [r["pid"] for r in raw]
    assert [p.name for p in playlists] == [r["name"] for r in raw]
    assert [p.collaborative for p in playlists] == [r["collaborative"] == "true" for r in raw]
    assert playlists[2].description == "slow coffee"
    for playlist, r in zip(playlists, raw, strict=True):
        firsts = list(dict.fromkeys(t["track_uri"] for t in r["tracks"]))
        assert [t.track_uri for t in playlist.tracks] == firsts
        assert playlist.repeats == len(r["tracks"]) - len(firsts)
    first = playlists[0].tracks[0]
    assert (first.artist_name, first.track_name, first.duration_ms) == (
        "The Quiet Ferns",
        "Paper Lanterns",
        214000,
    )
    assert (counts.playlists, counts.tracks, counts.repeats) == (3, 7, 1)


def test_each_bad_playlist_is_named_by_index_pid_and_field():
    playlists, errors, _ = read(SLICES / "mpd.slice.bad.json")
    assert [p.pid for p in playlists] == [10]
    assert errors == [
        ("playlists[1] (pid 11)", "tracks[1].duration_ms", "-5 is negative"),
        ("playlists[2] (pid 12)", "tracks[0].track_name", "missing"),
        ("playlists[3] (pid 13)", "num_tracks", "is 5 but the playlist has 0"),
        ("playlists[4] (pid 14)", "collaborative", 'must be "true" or "false"'),
        (
            "playlists[5] (pid 15)",
            "tracks[0].track_uri",
            "'https://open.example/track/1' is not spotify:track:<id>",
        ),
        (
            "playlists[6] (pid 16)",
            "tracks[0].pos",
            "is 3 where 0 was expected (0, 1, 2, ... in order)",
        ),
        ("playlists[7]", "pid", "missing"),
        ("playlists[8] (pid 17)", "name", "must be 1 to 200 characters, not blank"),
        ("playlists[9] (pid 10)", "pid", "10 is already playlists[0]'s"),
    ]


def test_files_that_are_not_slices_are_refused_whole(tmp_path):
    assert file_error(SLICES / "mpd.slice.truncated.json") == (
        "playlists[1]",
        "(file)",
        "truncated JSON: the file ends inside this playlist",
    )
    assert file_error(SLICES / "not_a_slice.json")[2].startswith("must be a JSON object")
    no_playlists = tmp_path / "info_only.json"
    no_playlists.write_text('{"info": {"slice": "0-999"}}')
    assert file_error(no_playlists)[:2] == ("$", "playlists")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert file_error(empty)[2] == "the file is empty"
    wrong = tmp_path / "object.json"
    wrong.write_text('{"info": {}, "playlists": {"pid": 1}}')
    assert file_error(wrong)[2] == '"playlists" must be a JSON array'


def test_a_playlist_too_large_is_refused_before_it_is_held(tmp_path, monkeypatch):
    import recsys.importers.mpd as mpd

    monkeypatch.setattr(mpd, "MAX_PLAYLIST_BYTES", 4096)
    tracks = [
        {
            "pos": i,
            "artist_name": "Iron Kettle",
            "track_uri": f"spotify:track:{i:022d}",
            "artist_uri": "spotify:artist:0kettle00000000000000001",
            "track_name": f"Lap {i}",
            "album_uri": "spotify:album:0sprint000000000000000001",
            "duration_ms": 1000,
            "album_name": "Laps",
        }
        for i in range(3000)
    ]
    big = {"name": "long", "collaborative": "false", "pid": 5, "modified_at": 1,
           "num_tracks": 3000, "tracks": tracks}  # fmt: skip
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"info": {}, "playlists": [big]}))
    where, field, reason = file_error(path)
    assert (where, field) == ("playlists[0]", "(playlist)")
    assert "longer than 4,096 bytes" in reason


def _index(songs, artists):
    return CatalogIndex.from_rows(songs, artists)


def test_tracks_match_by_uri_then_by_normalised_artist_and_title():
    playlists, _, _ = read(SLICES / "mpd.slice.0-2.json")
    index = _index(
        [
            # the URI matches whatever the names say
            (
                "c-lanterns",
                "Lanterns (other name)",
                "Ferns",
                None,
                "spotify:track:0aaaaaaaaaaaaaaaaaaaa1",
                214,
            ),
            # "Oda Brightwater feat. Someone Else" normalises to "oda brightwater"
            ("c-harbour", "Harbour Lights", "Oda Brightwater", None, None, 241),
            ("c-kettle", "kettle song", "LUMI KARVO", None, None, 175),
        ],  # fmt: skip
        [("a-ferns", "Ferns"), ("a-oda", "Oda Brightwater"), ("a-lumi", "Lumi Karvo")],
    )
    out = resolve(playlists, index, create_missing=False)
    assert [songs for _, songs in out.playlists] == [
        ["c-lanterns", "c-harbour"],
        ["c-lanterns"],
        ["c-kettle"],
    ]
    assert out.matched == 4 and out.created == 0
    assert out.unmatched == {
        ("The Quiet Ferns", "Moss on the Gate"): 1,
        ("Iron Kettle", "Sprint Forever"): 1,
        ("Oda Brightwater", "Low Tide (Demo)"): 1,
    }


def test_create_missing_gives_unmatched_tracks_the_history_importers_stable_ids():
    playlists, _, _ = read(SLICES / "mpd.slice.0-2.json")
    index = _index([], [("a-oda", "Oda Brightwater")])
    out = resolve(playlists, index, create_missing=True)
    kettle = stable_id("song", "iron kettle\x1fsprint forever")
    assert out.playlists[1][1] == [kettle, stable_id("song", "the quiet ferns\x1fpaper lanterns")]
    assert out.matched == 0 and out.created == 7 and not out.unmatched
    created = index.created[kettle]
    assert (created.title, created.artist_name, created.duration_s) == (
        "Sprint Forever",
        "Iron Kettle",
        199,
    )
    low_tide = index.created[out.playlists[2][1][1]]
    assert low_tide.artist_id == "a-oda" and low_tide.artist_exists
    # the same files again give the same ids
    again = resolve(playlists, _index([], [("a-oda", "Oda Brightwater")]), create_missing=True)
    assert again.playlists == out.playlists
