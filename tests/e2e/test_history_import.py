"""Listening histories imported end to end: the CLI on the sample files into a warehouse of
its own (a database on the session's PostgreSQL, a lake folder), re-imports and overlapping
exports counted once, bad files writing nothing, an import killed with SIGKILL at several
points and run again ending as one clean run, and, after the backfill (play_counters for
the commit interval, trending_resync for the imported days, in the test's Spark), the
counters and trending equal a brute-force count of the files."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil
import pytest

from recsys.importers.history import ImportOptions, import_history
from recsys.importers.matching import normalise_one
from recsys.importers.spotify import action_of
from recsys.lake import imported_events_path
from spark_jobs import play_counters, trending_resync
from tests.e2e.history_helpers import (
    HISTORY,
    commit_times,
    fresh_warehouse,
    kill_hard,
    lake_files,
    rows_of,
    run_import,
    sample_catalog,
    start_import,
)

pytestmark = pytest.mark.integration

UTC = dt.UTC


def catalog_lookup():
    """Independent of the importer's index: the sample catalog by MBID, Spotify URI and
    normalised (artist, title); song -> length."""
    by_id, by_name, length = {}, {}, {}
    for row in sample_catalog():
        length[row["song_id"]] = int(row["duration_s"])
        for key in (row["mbid"].lower(), row["spotify_uri"]):
            if key:
                by_id[key] = row["song_id"]
        name = (normalise_one(row["artist"]), normalise_one(row["title"]))
        by_name.setdefault(name, row["song_id"])
    return by_id, by_name, length


def lastfm_listens(path: Path) -> set[tuple]:
    """(user, epoch s, song) of each distinct scrobble of the file with a catalog song."""
    by_id, by_name, _ = catalog_lookup()
    found = set()
    for line in path.read_text().splitlines():
        user, when, _, artist, mbid, title = line.split("\t")
        song = by_id.get(mbid.lower()) or by_name.get((normalise_one(artist), normalise_one(title)))
        if song:
            found.add((user, int(dt.datetime.fromisoformat(when).timestamp()), song))
    return found


def summary_counts(stdout: str) -> dict[str, int]:
    """{label: number} of the summary the import prints."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^  (\w[\w ]*?) {2,}([\d,]+)\b", line)
        if match:
            found[match[1]] = int(match[2].replace(",", ""))
    return found


def test_samples_import_and_a_reimport_changes_nothing(postgres, tmp_path):
    warehouse = fresh_warehouse(postgres, "samples", tmp_path / "lake")
    first = run_import(warehouse, "lastfm", str(HISTORY / "lastfm.tsv"))
    assert first.returncode == 0, first.stderr
    expected = lastfm_listens(HISTORY / "lastfm.tsv")
    counts = summary_counts(first.stdout)
    assert counts["rows read"] == 43 and counts["duplicates"] == 1
    assert counts["imported"] == len(expected)
    assert counts["matched"] == len(expected) + counts["duplicates"]
    assert counts["rows read"] == counts["matched"] + counts["unmatched"]
    assert "Copper Finch - Weathervane" in first.stdout  # the unmatched are listed
    files = lake_files(warehouse)
    rows = [r for day in files.values() for r in day]
    assert len(rows) == len({r[0] for r in rows}) == len(expected)  # each listen once
    assert {(r[1], r[3] // 1000, r[2]) for r in rows} == expected
    assert {(r[4], r[5] == r[6]) for r in rows} == {("listen", True)}  # scrobbles heard whole
    users = {r[0] for r in rows_of(warehouse, "select id from catalog.users")}
    assert users == {"user_000001", "user_000002", "user_000003"}

    again = run_import(warehouse, "lastfm", str(HISTORY / "lastfm.tsv"))
    assert again.returncode == 0, again.stderr
    assert lake_files(warehouse) == files
    counts = summary_counts(again.stdout)
    assert (counts["imported"], counts["already imported"]) == (0, len(expected))

    for fmt, name, extra in (
        ("listenbrainz", "listenbrainz.jsonl", []),
        ("spotify", "spotify.json", ["--user", "alice"]),
        ("csv", "interactions.csv", []),
        ("csv", "interactions_ratings.csv", ["--create-missing"]),
    ):
        done = run_import(warehouse, fmt, *extra, str(HISTORY / name))
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert summary_counts(done.stdout)["imported"] > 0
    created = rows_of(warehouse, "select title from catalog.songs where genre = 'unknown'")
    assert created == [("Weathervane",)]  # the ratings file's song, added with a stable id


def test_an_overlapping_export_adds_only_the_new_listens(postgres, tmp_path):
    warehouse = fresh_warehouse(postgres, "overlap", tmp_path / "lake")
    options = ImportOptions("listenbrainz")
    first = import_history(warehouse, str(HISTORY / "listenbrainz.jsonl"), options)
    ids_first = {r[0] for day in lake_files(warehouse).values() for r in day}
    later = import_history(warehouse, str(HISTORY / "listenbrainz_later.json"), options)
    ids_later = {r[0] for day in lake_files(warehouse).values() for r in day}

    by_id, by_name, _ = catalog_lookup()

    def matched(item) -> bool:
        meta = item["track_metadata"]
        mbid = meta.get("additional_info", {}).get("recording_mbid", "")
        name = (normalise_one(meta["artist_name"]), normalise_one(meta["track_name"]))
        return bool(by_id.get(mbid) or by_name.get(name))

    old = [json.loads(line) for line in (HISTORY / "listenbrainz.jsonl").read_text().splitlines()]
    new = json.loads((HISTORY / "listenbrainz_later.json").read_text())
    overlap = [x for x in new if x in old]
    assert len(overlap) == 12
    assert first.imported == len(ids_first) == sum(matched(x) for x in old)
    assert later.already_imported == sum(matched(x) for x in overlap)
    assert (
        later.imported == len(ids_later - ids_first) == sum(matched(x) for x in new if x not in old)
    )
    assert ids_first <= ids_later


def test_a_bad_file_writes_nothing_unless_told_to_skip(postgres, tmp_path):
    warehouse = fresh_warehouse(postgres, "bad", tmp_path / "lake")
    bad = str(HISTORY / "lastfm_bad.tsv")
    refused = run_import(warehouse, "lastfm", bad)
    assert refused.returncode == 1
    assert f"{bad}: line 2: (row): no tab found" in refused.stderr
    assert f"{bad}: line 3: track MBID: missing" in refused.stderr
    assert f"{bad}: line 10: track: not valid UTF-8" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert lake_files(warehouse) == {}
    assert rows_of(warehouse, "select id from catalog.users") == []

    rejects = tmp_path / "rejects"
    skipped = run_import(warehouse, "lastfm", "--skip-invalid", "--rejects-dir", str(rejects), bad)
    assert skipped.returncode == 0, skipped.stderr
    rejected = [
        json.loads(x) for x in (rejects / "lastfm_bad.tsv.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["where"] for r in rejected] == [f"line {n}" for n in range(2, 11)]
    assert rejected[1]["field"] == "track MBID" and rejected[1]["row"].startswith("user_000004")
    assert sum(len(rows) for rows in lake_files(warehouse).values()) == 2

    for content, where in (
        (b"", "line 1: (file): the file is empty"),
        (b'[{"ts": "2023-01-01T00:00:00Z", "ms_', "truncated JSON"),
    ):
        path = tmp_path / "Streaming_History_Audio_2023.json"
        path.write_bytes(content)
        refused = run_import(warehouse, "spotify", "--user", "alice", str(path))
        assert refused.returncode == 1 and where in refused.stderr


def generated_history(path: Path, users: int = 3, per_user: int = 8000) -> None:
    """A Last.fm-format file of the sample catalog's songs over 20 days, by user, newest
    first, with some lines twice."""
    songs = [(r["artist"], r["title"]) for r in sample_catalog()]
    start = dt.datetime(2009, 3, 1, tzinfo=UTC)
    lines = []
    for u in range(1, users + 1):
        for i in range(per_user, 0, -1):
            when = start + dt.timedelta(seconds=i * 20 * 86_400 // per_user + u)
            artist, title = songs[(i * 7 + u) % len(songs)]
            line = f"user_{u:06d}\t{when:%Y-%m-%dT%H:%M:%SZ}\t\t{artist}\t\t{title}"
            lines += [line, line] if i % 997 == 0 else [line]
    path.write_text("\n".join(lines) + "\n")


def test_killed_anywhere_and_run_again_ends_as_one_clean_run(postgres, tmp_path):
    history = tmp_path / "userid-timestamp-artid-artname-traid-traname.tsv"
    generated_history(history)
    clean = fresh_warehouse(postgres, "clean", tmp_path / "clean-lake")
    done = run_import(clean, "lastfm", str(history), kill_after_renames=-1)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = lake_files(clean)
    assert len(expected) == 21  # 20 days and a bit

    killed = fresh_warehouse(postgres, "killed", tmp_path / "killed-lake")
    # 1. while publishing: 5 of the day files renamed into the lake
    assert run_import(killed, "lastfm", str(history), kill_after_renames=5).returncode == -9
    assert len(lake_files(killed)) == 5
    # 2. while the worker processes read the file: no worker outlives the import
    staging = Path(imported_events_path(killed.lake_uri)) / "_staging"
    process = start_import(killed, "lastfm", str(history))
    deadline = time.monotonic() + 60
    while not list(staging.glob("*/spill/part-*/*.arrows")) and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = psutil.Process(process.pid).children(recursive=True)
    kill_hard(process)
    assert process.returncode == -9
    psutil.wait_procs([w for w in workers if "spawn" in " ".join(_cmdline(w))], timeout=10)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    # 3. after the manifest recorded the commit time, before any rename
    assert run_import(killed, "lastfm", str(history), kill_after_renames=0).returncode == -9
    # 4. to the end
    last = run_import(killed, "lastfm", str(history))
    assert last.returncode == 0, last.stderr

    assert lake_files(killed) == expected  # the same files, names and rows
    assert len(commit_times(killed)) == 1  # one commit time, the first run's
    assert [p.name for p in staging.iterdir() if p.is_dir()] == []
    users = "select id, display_name from catalog.users order by 1"
    assert rows_of(killed, users) == rows_of(clean, users)
    manifests = list((staging.parent / "_imports").glob("*.json"))
    assert [json.loads(m.read_text())["state"] for m in manifests] == ["published"]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def spotify_events(path: Path, user: str) -> list[tuple]:
    """(user, epoch ms, song, action, seconds) of each playback with a catalog song."""
    by_id, by_name, length = catalog_lookup()
    found = []
    for item in json.loads(path.read_text()):
        uri = item["spotify_track_uri"]
        if uri is None:
            continue
        name = (
            normalise_one(item["master_metadata_album_artist_name"]),
            normalise_one(item["master_metadata_track_name"]),
        )
        song = by_id.get(uri) or by_name.get(name)
        if song:
            ended = int(dt.datetime.fromisoformat(item["ts"]).timestamp() * 1000)
            seconds = item["ms_played"] // 1000
            action = action_of(item["reason_end"], item["skipped"], seconds, 30)
            found.append(
                (user, ended - item["ms_played"], song, action, min(seconds, length[song]))
            )
    return found


def brute_force_daily(events: list[tuple]) -> list[tuple]:
    """song_daily_stats rows from (user, epoch ms, song, action, seconds) events."""
    stats, listeners = defaultdict(Counter), defaultdict(set)
    for user, ms, song, action, seconds in events:
        key = (dt.datetime.fromtimestamp(ms / 1000, UTC).date(), song)
        play = action == "complete" or (action == "listen" and seconds >= 30)
        stats[key].update(
            events=1,
            plays=int(play),
            completes=int(action == "complete"),
            skips=int(action == "skip"),
            seconds_heard=seconds,
            playbacks=1,
        )
        if play:
            listeners[key].add(user)
    return sorted(
        (
            day,
            song,
            c["events"],
            c["plays"],
            c["completes"],
            c["skips"],
            len(listeners[(day, song)]),
            c["seconds_heard"],
            c["playbacks"],
        )
        for (day, song), c in stats.items()
    )


def test_after_the_backfill_the_counters_and_trending_equal_the_files(postgres, spark, tmp_path):
    warehouse = fresh_warehouse(postgres, "counted", tmp_path / "lake")
    summaries = [
        import_history(warehouse, str(HISTORY / "lastfm.tsv"), ImportOptions("lastfm")),
        import_history(warehouse, str(HISTORY / "spotify.json"), ImportOptions("spotify", "alice")),
    ]
    # the backfill, as --backfill runs it through Airflow: the commit intervals, then the days
    intervals = sorted({_interval(s.committed_at) for s in summaries})
    for start, end in intervals:
        play_counters.count_interval(spark, warehouse, start, end)
    _, _, length = catalog_lookup()
    events = [
        (u, s * 1000, song, "listen", length[song])
        for u, s, song in lastfm_listens(HISTORY / "lastfm.tsv")
    ]
    events += spotify_events(HISTORY / "spotify.json", "alice")
    expected = brute_force_daily(events)
    daily = rows_of(
        warehouse,
        "select event_date, song_id, events, plays, completes, skips, listeners, seconds_heard,"
        " playbacks from analytics.song_daily_stats order by 1, 2",
    )
    assert daily == expected
    plays = Counter()
    for _day, song, _, n, *_ in expected:
        plays[song] += n
    cumulative = dict(rows_of(warehouse, "select id, plays_cumulative from catalog.songs"))
    assert {s: n for s, n in cumulative.items() if n} == dict(plays)

    last = summaries[0].last_day
    for day in _days(summaries[0].first_day, last):
        report = trending_resync.resync(spark, warehouse, day)
        assert (report.intervals_corrected, report.events_corrected) == (0, 0)
    window = [r for r in expected if last - dt.timedelta(days=6) <= r[0] <= last]
    week, heard_by = Counter(), defaultdict(set)
    for user, ms, song, action, seconds in events:
        day = dt.datetime.fromtimestamp(ms / 1000, UTC).date()
        if last - dt.timedelta(days=6) <= day <= last and (action == "complete" or seconds >= 30):
            week[song] += 1
            heard_by[song].add(user)
    ranking = sorted(week, key=lambda s: (-week[s], -len(heard_by[s]), s))
    snapshot = rows_of(
        warehouse,
        "select rank, song_id, plays_7d, listeners_7d from analytics.trending_history"
        " where snapshot_date = %s order by rank",
        (last,),
    )
    assert window and snapshot == [
        (rank, s, week[s], len(heard_by[s])) for rank, s in enumerate(ranking, 1)
    ]


def _interval(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return start, start + dt.timedelta(minutes=15)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
