"""Importing MPD slices into catalog.playlists against the real PostgreSQL: the demo world's
generated playlists matched to its catalog, re-imports that change nothing, dry runs, bad files
that write nothing, unmatched tracks left out or added, and the command's messages."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from recsys import db
from recsys.importers.matching import normalise_one
from recsys.importers.mpd_import import Importer, playlist_id
from recsysctl import cli
from recsysctl.demo.playlists import generate_slice, write_slice

pytestmark = pytest.mark.integration

SLICES = Path(__file__).parent / "mpd_slices"


@pytest.fixture
def owner():
    return f"mpd-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def conn(postgres, world, owner):
    with db.connect(postgres, autocommit=True) as conn:
        yield conn
        with conn.transaction():
            conn.execute("delete from catalog.playlists where user_id = %s", (owner,))
            conn.execute("delete from catalog.users where id = %s", (owner,))


def stored(conn, owner) -> dict[str, tuple]:
    rows = conn.execute(
        "select p.id::text, p.name, p.public,"
        " coalesce(array_agg(ps.song_id order by ps.position)"
        "   filter (where ps.song_id is not null), '{}'),"
        " coalesce(array_agg(ps.position order by ps.position)"
        "   filter (where ps.song_id is not null), '{}')"
        " from catalog.playlists as p"
        " left join catalog.playlist_songs as ps on ps.playlist_id = p.id"
        " where p.user_id = %s group by p.id",
        (owner,),
    ).fetchall()
    return {r[0]: (r[1], r[2], list(r[3]), list(r[4])) for r in rows}


def test_generated_playlists_import_matched_and_a_second_import_changes_nothing(
    conn, world, owner, tmp_path
):
    data = generate_slice(world, 30, seed=5)
    path = tmp_path / "mpd.slice.0-29.json"
    write_slice(data, path)

    dry = Importer(conn, owner).run(str(path), dry_run=True)
    assert not dry.written and not dry.errors and stored(conn, owner) == {}
    first = Importer(conn, owner).run(str(path))
    assert first.written and not first.errors
    tracks = sum(p["num_tracks"] for p in data["playlists"])
    assert (first.inserted, first.updated, first.unchanged) == (30, 0, 0)
    assert (dry.inserted, dry.matched) == (first.inserted, first.matched) == (30, tracks)
    assert first.created == {"users": 1, "artists": 0, "songs": 0}

    rows = stored(conn, owner)
    titles = dict(
        conn.execute(
            "select s.id, a.name || ' - ' || s.title from catalog.songs as s"
            " join catalog.artists as a on a.id = s.artist_id"
        ).fetchall()
    )
    for playlist in data["playlists"]:
        name, public, songs, positions = rows[playlist_id(owner, playlist["pid"])]
        assert (name, public) == (playlist["name"], True)
        assert positions == list(range(1, len(songs) + 1))
        # each track is a catalog song of its artist and title (normalised: two songs of an
        # artist with one title are its smaller id, so such tracks are one song, kept once)
        named = [
            normalise_one(f"{t['artist_name']} - {t['track_name']}") for t in playlist["tracks"]
        ]
        assert [normalise_one(titles[s]) for s in songs] == list(dict.fromkeys(named))

    again = Importer(conn, owner).run(str(path))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 30)
    assert stored(conn, owner) == rows

    # a playlist changed in the file is updated, in place
    data["playlists"][0]["name"] = "renamed"
    data["playlists"][0]["tracks"] = data["playlists"][0]["tracks"][:3]
    for pos, track in enumerate(data["playlists"][0]["tracks"]):
        track["pos"] = pos
    data["playlists"][0]["num_tracks"] = 3
    write_slice(data, path)
    changed = Importer(conn, owner).run(str(path))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 29)
    name, _, songs, _ = stored(conn, owner)[playlist_id(owner, 0)]
    assert name == "renamed" and songs == rows[playlist_id(owner, 0)][2][:3]


def test_a_bad_file_writes_nothing_and_the_others_import(conn, owner):
    importer = Importer(conn, owner)
    bad = importer.run(str(SLICES / "mpd.slice.bad.json"))
    assert not bad.written and len(bad.errors) == 9
    assert stored(conn, owner) == {}
    good = importer.run(str(SLICES / "mpd.slice.0-2.json"))
    assert good.written and good.inserted == 3


def test_unmatched_tracks_are_left_out_or_added_with_create_missing(conn, owner):
    left_out = Importer(conn, owner).run(str(SLICES / "mpd.slice.0-2.json"))
    assert (left_out.matched, left_out.created_tracks, left_out.empty) == (0, 0, 3)
    assert sum(left_out.unmatched.values()) == 7
    assert all(songs == [] for _, _, songs, _ in stored(conn, owner).values())

    importer = Importer(conn, owner, create_missing=True)
    added = importer.run(str(SLICES / "mpd.slice.0-2.json"))
    created = sorted(importer.index.created)
    try:
        assert (added.updated, added.created_tracks, added.empty) == (3, 7, 0)
        assert added.created["songs"] == 6  # one track is in two playlists
        rows = stored(conn, owner)
        assert [len(rows[playlist_id(owner, pid)][2]) for pid in (0, 1, 2)] == [3, 2, 2]
        genres = conn.execute(
            "select distinct genre from catalog.songs where id = any(%s)", (created,)
        ).fetchall()
        assert genres == [("unknown",)]
    finally:
        with conn.transaction():
            conn.execute("delete from catalog.playlists where user_id = %s", (owner,))
            artists = conn.execute(
                "select distinct artist_id from catalog.songs where id = any(%s)", (created,)
            ).fetchall()
            conn.execute("delete from catalog.songs where id = any(%s)", (created,))
            conn.execute(
                "delete from catalog.artists as a where a.id = any(%s) and not exists"
                " (select 1 from catalog.songs as s where s.artist_id = a.id)",
                ([a[0] for a in artists],),
            )


def test_the_command_names_file_playlist_and_field(conn, owner, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(
            ["import", "playlists", "--user", owner, "--no-progress",
             str(SLICES / "mpd.slice.bad.json"), str(SLICES / "mpd.slice.0-2.json")]
        )  # fmt: skip
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert f"{SLICES / 'mpd.slice.bad.json'}: playlists[1] (pid 11): tracks[1].duration_ms:" in err
    assert "Traceback" not in err
    assert f"nothing of {SLICES / 'mpd.slice.bad.json'} was written" in err
    assert "playlists         3 inserted, 0 updated, 0 unchanged (were), 3 empty" in out
    assert len(stored(conn, owner)) == 3
