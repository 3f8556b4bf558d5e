"""Catalog imports against the real PostgreSQL: upserts by id, re-imports that change nothing,
dry runs, bad rows (nothing written, or skipped into a rejects file), ids of other songs."""

from __future__ import annotations

import orjson
import pytest

from recsys import db
from recsys.catalog import store
from recsys.catalog.importer import import_catalog, rejects_path_for
from tests.recsys.catalog_helpers import (
    SAMPLE_BAD,
    SAMPLE_CSV,
    SAMPLE_JSONL,
    SAMPLE_PREFIXES,
    catalog_rows,
    remove_songs,
)

pytestmark = pytest.mark.integration

HEADER = "song_id,title,artist_id,artist,genres,duration_s,lyrics,isrc"


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        remove_songs(conn, *SAMPLE_PREFIXES, "imp-")
        yield conn
        remove_songs(conn, *SAMPLE_PREFIXES, "imp-")


def counts(report) -> dict:
    return report.plan.as_dict()


def test_an_import_upserts_and_a_second_import_changes_nothing(conn):
    dry = import_catalog(conn, SAMPLE_CSV, dry_run=True)
    assert catalog_rows(conn, *SAMPLE_PREFIXES) == {"songs": [], "artists": []}
    first = import_catalog(conn, SAMPLE_CSV)
    assert first.written and not dry.written
    assert (first.rows_read, first.rejected) == (32, 0)
    assert (
        counts(first)
        == counts(dry)
        == {
            "songs": {"inserted": 32, "updated": 0, "unchanged": 0},
            "artists": {"inserted": 8, "updated": 0, "unchanged": 0},
            "lyrics_changed": 12,
        }
    )
    stored = catalog_rows(conn, *SAMPLE_PREFIXES)
    stamps = conn.execute("select id, updated_at from catalog.songs where id like 'trk-%'")
    stamps = stamps.fetchall()
    for again in (SAMPLE_CSV, SAMPLE_JSONL):  # the same catalog in the other format too
        report = import_catalog(conn, again)
        assert counts(report) == {
            "songs": {"inserted": 0, "updated": 0, "unchanged": 32},
            "artists": {"inserted": 0, "updated": 0, "unchanged": 8},
            "lyrics_changed": 0,
        }
    assert catalog_rows(conn, *SAMPLE_PREFIXES) == stored
    after = conn.execute("select id, updated_at from catalog.songs where id like 'trk-%'")
    assert after.fetchall() == stamps
    song = dict(
        zip(("id", "title", "artist_id", "album", "genre"), stored["songs"][0], strict=False)
    )
    assert song == {
        "id": "trk-0001",
        "title": "Paper Lanterns",
        "artist_id": "art-quiet-ferns",
        "album": "Millpond Songs",
        "genre": "folk",
    }
    assert stored["songs"][0][10:13] == (
        "1a2b3c4d-0001-4e5f-8a9b-0c1d2e3f4a51",
        "ZZQF11900001",
        None,
    )
    assert (
        "art-quiet-ferns",
        "The Quiet Ferns",
        "folk",
        "6f1d2c1e-5b8a-4c51-9a3e-1d2f0c9b7a11",
    ) in stored["artists"]


def test_a_changed_row_updates_the_song_and_a_missing_column_keeps_its_value(conn, tmp_path):
    first = tmp_path / "v1.csv"
    first.write_text(
        f"{HEADER}\nimp-1,Kettle Song,imp-a,Fog Choir,pop,187,steam rises,\n"
        "imp-2,Teapot Overture,imp-a,Fog Choir,pop|orchestral,240,,\n"
    )
    import_catalog(conn, first)
    before = dict(conn.execute("select id, updated_at from catalog.songs where id like 'imp-%'"))
    changed = tmp_path / "v2.csv"
    changed.write_text(f"{HEADER}\nimp-1,Kettle Song,imp-a,Fog Choir,pop,187,steam falls,\n")
    dry = import_catalog(conn, changed, dry_run=True)
    report = import_catalog(conn, changed)
    assert (
        counts(report)
        == counts(dry)
        == {
            "songs": {"inserted": 0, "updated": 1, "unchanged": 0},
            "artists": {"inserted": 0, "updated": 0, "unchanged": 1},
            "lyrics_changed": 1,
        }
    )
    after = dict(conn.execute("select id, updated_at from catalog.songs where id like 'imp-%'"))
    assert after["imp-1"] > before["imp-1"] and after["imp-2"] == before["imp-2"]
    # a file without the lyrics column leaves the lyrics alone; an empty value clears them
    no_lyrics = tmp_path / "v3.csv"
    no_lyrics.write_text(
        "song_id,title,artist_id,artist,genres,duration_s\nimp-1,Kettle Song,imp-a,"
        "Fog Choir,pop,190\n"
    )
    assert counts(import_catalog(conn, no_lyrics))["lyrics_changed"] == 0
    lyrics = "select lyrics, duration_s from catalog.songs where id = 'imp-1'"
    assert conn.execute(lyrics).fetchone() == ("steam falls", 190)
    cleared = tmp_path / "v4.jsonl"
    cleared.write_text(
        '{"song_id": "imp-1", "title": "Kettle Song", "artist_id": "imp-a", "artist":'
        ' "Fog Choir", "genres": ["pop"], "duration_s": 190, "lyrics": null}\n'
    )
    assert counts(import_catalog(conn, cleared))["lyrics_changed"] == 1
    assert conn.execute(lyrics).fetchone() == (None, 190)


def test_a_file_with_bad_rows_writes_nothing_and_names_each(conn):
    report = import_catalog(conn, SAMPLE_BAD)
    assert not report.written and report.plan is None
    assert catalog_rows(conn, "trk-b", "art-fog") == {"songs": [], "artists": []}
    named = {(p.line, p.field) for p in report.problems}
    assert named == {
        (3, "duration_s"),
        (4, "duration_s"),
        (5, "release_date"),
        (6, "song_id"),
        (7, "title"),
        (8, "row"),
        (9, "title"),
        (10, "artist"),
        (11, "genres"),
        (14, "duration_s"),
        (15, "image_url"),
        (17, "line"),
    }
    assert all(p.path == str(SAMPLE_BAD) for p in report.problems)
    assert str(report.problems[3]) == (f"{SAMPLE_BAD}:6: song_id: 'trk-b001' is already on line 2")
    assert (report.rows_read, report.rejected) == (15, 12)
    assert not rejects_path_for(SAMPLE_BAD).exists()


def test_skip_invalid_writes_the_valid_rows_and_a_rejects_file(conn, tmp_path):
    bad = tmp_path / "catalog_bad.csv"
    bad.write_bytes(SAMPLE_BAD.read_bytes())
    report = import_catalog(conn, bad, skip_invalid=True)
    assert report.written and report.rejects_path == str(tmp_path / "catalog_bad.csv.rejects.jsonl")
    assert counts(report)["songs"] == {"inserted": 3, "updated": 0, "unchanged": 0}
    ids = [row[0] for row in catalog_rows(conn, "trk-b")["songs"]]
    assert ids == ["trk-b001", "trk-b010", "trk-b013"]
    rejects = [orjson.loads(line) for line in open(report.rejects_path, "rb")]
    assert [r["line"] for r in rejects] == [3, 4, 5, 7, 8, 9, 11, 14, 15, 17, 6, 10]
    by_line = {r["line"]: r for r in rejects}
    assert by_line[6]["errors"] == [
        {"field": "song_id", "reason": "'trk-b001' is already on line 2"}
    ]
    assert by_line[6]["record"].startswith("trk-b001,Kettle Song (again),")
    assert by_line[3]["record"].startswith("trk-b002,Backwards Clock,")
    assert not (tmp_path / "catalog_bad.csv.rejects.jsonl.part").exists()
    # a clean run afterwards removes the stale rejects file
    good = tmp_path / "good.csv"
    good.write_text(
        bad.read_text(errors="replace").splitlines()[0]
        + "\n"
        + "trk-b001,Kettle Song,art-fog-choir,Fog Machine Choir,Steam,pop,187,"
        "2020-01-10,,,\n"
    )
    good.rename(bad)
    assert import_catalog(conn, bad, skip_invalid=True).rejects_path is None
    assert not rejects_path_for(bad).exists()


def test_an_id_from_elsewhere_that_another_song_has_is_named(conn, tmp_path):
    path = tmp_path / "songs.csv"
    path.write_text(f"{HEADER}\nimp-1,Kettle Song,imp-a,Fog Choir,pop,187,,ZZQF11900009\n")
    import_catalog(conn, path)
    path.write_text(
        f"{HEADER}\nimp-2,Teapot,imp-a,Fog Choir,pop,187,,ZZ-QF1-19-00009\n"
        "imp-3,Saucer,imp-b,Other,pop,187,,ZZQF11900010\nimp-4,Cup,imp-b,Other,pop,187,,"
        "ZZQF11900010\n"
    )
    report = import_catalog(conn, path)
    assert not report.written
    assert [str(p).split(": ", 1)[1] for p in report.problems] == [
        "isrc: 'ZZQF11900009' belongs to the catalog's song 'imp-1'",
        "isrc: 'ZZQF11900010' is already on line 3",
    ]


def test_takedown_and_restore_are_idempotent(conn, tmp_path):
    import_catalog(conn, SAMPLE_CSV)
    assert store.take_down(conn, "no-such-song") is None
    when, changed = store.take_down(conn, "trk-0001")
    assert changed
    assert store.take_down(conn, "trk-0001") == (when, False)
    assert [row[0] for row in store.taken_down(conn)][:1] == ["trk-0001"]
    # a re-import never restores a taken-down song
    import_catalog(conn, SAMPLE_CSV)
    assert store.take_down(conn, "trk-0001") == (when, False)
    assert store.restore(conn, "trk-0001") is True
    assert store.restore(conn, "trk-0001") is False
    assert store.restore(conn, "no-such-song") is None
