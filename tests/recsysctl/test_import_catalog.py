"""``python -m recsysctl import catalog`` and ``catalog takedown`` as an operator runs them, in
a subprocess against the test warehouse: the summary, the exit status, bad input named by
file, line and field, and an import killed with SIGKILL mid-way that, run again, leaves
exactly what one clean run leaves."""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest

from recsys import db
from recsys.settings import PROJECT_ROOT
from tests.recsys.catalog_helpers import (
    SAMPLE_BAD,
    SAMPLE_CSV,
    SAMPLE_PREFIXES,
    SAMPLES,
    build_lrclib_dump,
    catalog_rows,
    remove_songs,
)

pytestmark = pytest.mark.integration

BIG_ROWS = 200_000
APPLICATION = "recsysctl import catalog"


def recsysctl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recsysctl", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,
    )


@pytest.fixture
def conn(postgres):
    with db.connect(postgres, autocommit=True) as conn:
        remove_songs(conn, *SAMPLE_PREFIXES, "big-")
        yield conn
        remove_songs(conn, *SAMPLE_PREFIXES, "big-")


def test_the_sample_imports_and_a_second_run_changes_nothing(conn):
    first = recsysctl("import", "catalog", str(SAMPLE_CSV), "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "32 rows read, 32 valid, 0 rejected" in first.stdout
    assert "songs    32 inserted, 0 updated, 0 unchanged (were)" in first.stdout
    assert "artists  8 inserted, 0 updated, 0 unchanged (were)" in first.stdout
    assert "python -m recsysctl models embed --wait" in first.stdout  # 12 songs with lyrics
    again = recsysctl("import", "catalog", str(SAMPLE_CSV), "--dry-run", "--no-progress")
    assert again.returncode == 0
    assert "songs    0 inserted, 0 updated, 32 unchanged (would be)" in again.stdout
    assert "dry run: nothing was written" in again.stdout


def test_bad_rows_are_named_and_nothing_is_written(conn, tmp_path):
    bad = tmp_path / "catalog_bad.csv"
    bad.write_bytes(SAMPLE_BAD.read_bytes())
    result = recsysctl("import", "catalog", str(bad), "--no-progress")
    assert result.returncode == 1
    assert f"{bad}:3: duration_s: must be a positive number of seconds" in result.stderr
    assert f"{bad}:6: song_id: 'trk-b001' is already on line 2" in result.stderr
    assert f"{bad}:9: title: the line is not valid UTF-8 (byte 17)" in result.stderr
    assert "nothing was written" in result.stderr
    assert catalog_rows(conn, "trk-b") == {"songs": [], "artists": []}

    skipped = recsysctl("import", "catalog", str(bad), "--skip-invalid", "--no-progress")
    assert skipped.returncode == 0, skipped.stderr
    assert "15 rows read, 3 valid, 12 rejected" in skipped.stdout
    assert f"rejected rows and their reasons: {bad}.rejects.jsonl" in skipped.stdout
    assert len((tmp_path / "catalog_bad.csv.rejects.jsonl").read_text().splitlines()) == 12
    assert len(catalog_rows(conn, "trk-b")["songs"]) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "songs.csv: file: is empty: no header and no rows"),
        (
            "song_id;title;artist_id;artist;genres;duration_s\nx;t;a;A;pop;100\n",
            "songs.csv:1: header: the columns are separated by ';'; catalog CSV files are"
            " comma-separated",
        ),
        (
            "song_id,title,artist_id,artist,genre,duration_s\nx,t,a,A,pop,100\n",
            "songs.csv:1: header: missing columns: genres; unknown columns: genre",
        ),
    ],
)
def test_a_file_that_is_no_catalog_is_refused(conn, tmp_path, content, message):
    path = tmp_path / "songs.csv"
    path.write_text(content)
    result = recsysctl("import", "catalog", str(path), "--no-progress")
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing was written" in result.stderr


def test_takedown_and_restore_from_the_cli(conn):
    recsysctl("import", "catalog", str(SAMPLE_CSV), "--no-progress")
    down = recsysctl("catalog", "takedown", "trk-0005")
    assert down.returncode == 0 and "trk-0005 taken down at" in down.stdout
    assert (
        "trk-0005  Midnight Static (Neon Harbor Club)" in recsysctl("catalog", "taken-down").stdout
    )
    assert "was already taken down" in recsysctl("catalog", "takedown", "trk-0005").stdout
    assert recsysctl("catalog", "restore", "trk-0005").stdout.startswith("trk-0005 restored")
    unknown = recsysctl("catalog", "takedown", "no-such-song")
    assert unknown.returncode == 1 and "no song 'no-such-song'" in unknown.stderr


def test_lyrics_from_an_lrclib_dump_and_a_file(conn, tmp_path):
    recsysctl("import", "catalog", str(SAMPLE_CSV), "--no-progress")
    dump = tmp_path / "lrclib.sqlite3"
    build_lrclib_dump(dump)
    result = recsysctl("import", "lyrics", "lrclib", str(dump), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "10 tracks with lyrics read; 6 of the catalog's" in result.stdout
    assert ": 4 plain, 1 synced, 1 instrumental" in result.stdout
    assert "songs    5 updated, 0 unchanged, 1 kept their own lyrics (were)" in result.stdout
    assert "python -m recsysctl models embed --wait" in result.stdout
    result = recsysctl("import", "lyrics", "csv", str(SAMPLES / "lyrics.csv"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "songs    3 updated, 0 unchanged, 0 kept their own lyrics (would be)" in result.stdout


def write_big_catalog(path) -> list[tuple]:
    """BIG_ROWS songs of 500 artists; returns the rows a clean import stores, as
    ``catalog_rows`` reads them."""
    expected = []
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "song_id",
                "title",
                "artist_id",
                "artist",
                "genres",
                "duration_s",
                "release_date",
                "lyrics",
            ]
        )
        for i in range(BIG_ROWS):
            song, artist = f"big-{i:06d}", f"big-artist-{i % 500:03d}"
            day = dt.date(2000, 1, 1) + dt.timedelta(days=i % 9000)
            lyrics = f"line {i} of a song\nthat goes on {i % 7} times" if i % 3 == 0 else ""
            out.writerow(
                [
                    song,
                    f"Song {i}",
                    artist,
                    f"Artist {i % 500}",
                    "rock|pop",
                    60 + i % 400,
                    day.isoformat(),
                    lyrics,
                ]
            )
            expected.append(
                (
                    song,
                    f"Song {i}",
                    artist,
                    None,
                    "rock",
                    60 + i % 400,
                    day,
                    None,
                    None,
                    lyrics or None,
                    None,
                    None,
                    None,
                    0,
                    0,
                    None,
                )
            )
    return sorted(expected)


def wait_for_copy(conn, process, timeout_s: float = 120) -> None:
    """Until the import's session is COPYing rows into its staging table."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the import ended before it could be killed"
        row = conn.execute(
            "select 1 from pg_stat_activity where application_name = %s and state = 'active'"
            " and query ilike 'copy %%'",
            (APPLICATION,),
        ).fetchone()
        if row:
            return
        time.sleep(0.05)
    raise AssertionError("the import never started copying")


def test_an_import_killed_mid_way_then_run_again_equals_one_clean_run(conn, tmp_path):
    path = tmp_path / "big.csv"
    expected = write_big_catalog(path)
    before = catalog_rows(conn, "big-")
    process = subprocess.Popen(
        [sys.executable, "-m", "recsysctl", "import", "catalog", str(path), "--no-progress"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        wait_for_copy(conn, process)
        time.sleep(1.0)  # well into the file
        assert process.poll() is None, "the import finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    # the server ends the killed client's session and rolls its transaction back
    deadline = time.monotonic() + 30
    while conn.execute(
        "select count(*) from pg_stat_activity where application_name = %s", (APPLICATION,)
    ).fetchone()[0]:
        assert time.monotonic() < deadline, "the killed import's session is still there"
        time.sleep(0.1)
    assert catalog_rows(conn, "big-") == before == {"songs": [], "artists": []}

    again = recsysctl("import", "catalog", str(path), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert f"{BIG_ROWS} rows read, {BIG_ROWS} valid, 0 rejected" in again.stdout
    stored = catalog_rows(conn, "big-")
    assert stored["songs"] == expected
    assert stored["artists"] == [
        (f"big-artist-{a:03d}", f"Artist {a}", "rock", None) for a in range(500)
    ]
    third = recsysctl("import", "catalog", str(path), "--no-progress")
    assert f"songs    0 inserted, 0 updated, {BIG_ROWS} unchanged (were)" in third.stdout
