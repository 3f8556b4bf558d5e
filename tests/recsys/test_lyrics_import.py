"""Lyrics imports: an LRCLIB-schema SQLite dump built here, matched to the sample catalog by
normalised artist and title with durations within 2 s (synced lyrics stripped, instrumentals
flagged, the nearest duration winning, songs' own lyrics kept unless replaced), and a
``song_id,lyrics`` file."""

from __future__ import annotations

import sqlite3

import pytest

from recsys import db
from recsys.catalog.files import CatalogFileError
from recsys.catalog.importer import import_catalog
from recsys.catalog.lyrics import import_lrclib, import_lyrics_file, strip_synced
from tests.recsys.catalog_helpers import (
    SAMPLE_CSV,
    SAMPLE_PREFIXES,
    SAMPLES,
    SYNCED,
    build_lrclib_dump,
    remove_songs,
)

SAMPLE_LYRICS = SAMPLES / "lyrics.csv"


def test_synced_lyrics_become_plain_text():
    assert strip_synced(SYNCED) == (
        "Wires in the garden\nhumming in the dark\n\npulse, pulse, pulse"
    )
    assert strip_synced("[00:01.00]\n\n[00:02.00] only line\n") == "only line"


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        remove_songs(conn, *SAMPLE_PREFIXES)
        import_catalog(conn, SAMPLE_CSV)
        yield conn
        remove_songs(conn, *SAMPLE_PREFIXES)


def lyrics_of(conn, *songs) -> dict:
    rows = conn.execute(
        "select id, lyrics, instrumental from catalog.songs where id = any(%s)", (list(songs),)
    )
    return {song: (lyrics, instrumental) for song, lyrics, instrumental in rows}


@pytest.mark.integration
def test_an_lrclib_dump_is_matched_by_artist_title_and_duration(conn, tmp_path):
    dump = tmp_path / "lrclib-db-dump.sqlite3"
    build_lrclib_dump(dump)
    catalog_songs = conn.execute("select count(*) from catalog.songs").fetchone()[0]

    dry = import_lrclib(conn, dump, dry_run=True)
    assert not dry.written and lyrics_of(conn, "trk-0004")["trk-0004"] == (None, False)
    report = import_lrclib(conn, dump)
    for r in (dry, report):
        assert r.rows_read == 10 and r.catalog_songs == catalog_songs
        assert r.matched == 6 and r.match_rate == pytest.approx(6 / catalog_songs)
        assert r.kinds == {"plain": 4, "synced": 1, "instrumental": 1}
        assert (r.updated, r.unchanged, r.kept) == (5, 0, 1)
    assert lyrics_of(
        conn,
        "trk-0004",
        "trk-0007",
        "trk-0008",
        "trk-0010",
        "trk-0011",
        "trk-0025",
        "trk-0001",
        "trk-0019",
    ) == {
        "trk-0004": ("grey sky over the ferns", False),
        "trk-0007": ("Wires in the garden\nhumming in the dark\n\npulse, pulse, pulse", False),
        "trk-0008": (None, False),  # 4 s longer: no match
        "trk-0010": ("the nearer one", False),  # the nearest duration wins
        "trk-0011": ("salt on the lips", False),  # accents do not matter
        "trk-0025": (None, True),  # an instrumental
        "trk-0001": (lyrics_of(conn, "trk-0001")["trk-0001"][0], False),
        "trk-0019": (None, False),  # a lyrics row without lyrics
    }
    assert lyrics_of(conn, "trk-0001")["trk-0001"][0].startswith("Fold the evening")  # kept

    again = import_lrclib(conn, dump)
    assert (again.updated, again.unchanged, again.kept) == (0, 5, 1)
    replaced = import_lrclib(conn, dump, replace=True)
    assert (replaced.updated, replaced.unchanged, replaced.kept) == (1, 5, 0)
    assert lyrics_of(conn, "trk-0001")["trk-0001"] == ("other words entirely", False)


@pytest.mark.integration
def test_a_file_that_is_no_lrclib_dump_is_refused(conn, tmp_path):
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("create table songs (id integer)").connection.commit()
    with pytest.raises(CatalogFileError, match="is not an LRCLIB dump"):
        import_lrclib(conn, other)
    text = tmp_path / "notes.sqlite3"
    text.write_text("hello\n" * 100)
    with pytest.raises(CatalogFileError, match="is not an SQLite database"):
        import_lrclib(conn, text)


@pytest.mark.integration
def test_a_song_id_lyrics_file_sets_each_songs_lyrics(conn, tmp_path):
    report = import_lyrics_file(conn, SAMPLE_LYRICS)
    assert report.written and (report.rows_read, report.updated, report.unchanged) == (3, 3, 0)
    assert lyrics_of(conn, "trk-0008")["trk-0008"][0].startswith("Four in the morning")
    assert import_lyrics_file(conn, SAMPLE_LYRICS).unchanged == 3

    bad = tmp_path / "lyrics.csv"
    bad.write_text(
        'song_id,lyrics\ntrk-0012,"new words"\nno-such-song,la\ntrk-0012,again\ntrk-0013,\n'
    )
    refused = import_lyrics_file(conn, bad)
    assert not refused.written
    assert [str(p).split(": ", 1)[1] for p in refused.problems] == [
        "song_id: 'no-such-song' is not in the catalog",
        "song_id: 'trk-0012' is already on line 2",
    ]
    assert lyrics_of(conn, "trk-0012")["trk-0012"] == (None, False)
    skipped = import_lyrics_file(conn, bad, skip_invalid=True)
    assert skipped.written and skipped.updated == 2  # trk-0012 set, trk-0013's cleared
    assert lyrics_of(conn, "trk-0012", "trk-0013") == {
        "trk-0012": ("new words", False),
        "trk-0013": (None, False),
    }
    assert skipped.rejects_path == f"{bad}.rejects.jsonl"

    header = tmp_path / "wrong.csv"
    header.write_text("song,lyrics\nx,y\n")
    with pytest.raises(CatalogFileError, match="missing columns: song_id; unknown columns: song"):
        import_lyrics_file(conn, header)
