"""The generic interactions CSV parser: action + seconds, ratings, and bad input (header
problems stop the file at line 1; row problems name the line and field). No services."""

from __future__ import annotations

import pytest

from recsys.importers.interactions_csv import LIKED_RATING
from tests.recsys.importers_helpers import SAMPLES, file_error, parse


def test_actions_sample():
    listens, errors, _ = parse("csv", SAMPLES / "interactions.csv")
    lines = (SAMPLES / "interactions.csv").read_text().splitlines()
    assert errors == [] and len(listens) == len(lines) - 1 == 30
    for listen, line in zip(listens, lines[1:], strict=True):
        user, song, _, action, seconds, total = line.split(",")
        assert (listen["user_id"], listen["song_id"], listen["track_key"]) == (user, song, song)
        assert (listen["action"], listen["seconds"]) == (action, int(seconds))
        assert listen["total_seconds"] == (int(total) if total else None)
    assert listens[0]["row"] == 2  # the header is line 1


def test_ratings_sample_each_rating_is_one_play():
    listens, errors, _ = parse("csv", SAMPLES / "interactions_ratings.csv")
    lines = (SAMPLES / "interactions_ratings.csv").read_text().splitlines()[1:]
    assert errors == [] and len(listens) == len(lines)
    for listen, line in zip(listens, lines, strict=True):
        rating = float(line.split(",")[3])
        assert listen["action"] == ("complete" if rating >= LIKED_RATING else "listen")
        assert listen["seconds"] is None  # heard whole
    by_name = [x for x in listens if x["song_id"] is None]
    assert [(x["artist"], x["title"]) for x in by_name] == [
        ("Copper Finch", "Weathervane"),
        ("Okonjo and the Tidewater", "Lighthouse Keeper's Day Off"),
    ]
    assert listens[0]["timestamp"] == int(lines[0].split(",")[2]) * 1000  # epoch seconds


def test_bad_sample_names_line_and_field():
    listens, errors, _ = parse("csv", SAMPLES / "interactions_bad.csv")
    assert [x["row"] for x in listens] == [2, 11]
    assert [(where, field) for where, field, _ in errors] == [
        ("line 3", "action"),
        ("line 4", "timestamp"),
        ("line 5", "seconds"),
        ("line 6", "(row)"),
        ("line 7", "user"),
        ("line 8", "song"),
        ("line 9", "timestamp"),
        ("line 10", "seconds"),
    ]


@pytest.mark.parametrize(
    "header, field, reason",
    [
        ("user;song;timestamp;rating", "(header)", "the delimiter must be ','"),
        ("user\tsong\ttimestamp\trating", "(header)", "the delimiter must be ','"),
        ("user,song,timestamp,rating,mood", "mood", "unknown column"),
        ("user,timestamp,rating", "song", "missing column"),
        ("user,song,timestamp", "action", "give either action and seconds, or rating"),
        ("user,song,timestamp,action,seconds,rating", "rating", "either action and seconds"),
        ("user,song,timestamp,action", "seconds", "missing column"),
    ],
)
def test_header_problems_stop_the_file(tmp_path, header, field, reason):
    path = tmp_path / "interactions.csv"
    path.write_text(f"{header}\ncsv-ana,trk-0001,1749553200,4\n")
    where, got_field, got_reason = file_error("csv", path)
    assert (where, got_field) == ("line 1", field)
    assert reason in got_reason


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert file_error("csv", empty) == ("line 1", "(file)", "the file is empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("user,song,timestamp,rating\n")
    assert parse("csv", header_only)[:2] == ([], [])


def test_quoted_fields_bom_and_invalid_utf8(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfuser,song,timestamp,rating,artist,title\n"
        b'csv-ana,,2025-06-10T10:00:00+02:00,5,"Static Orchard","Bus Route 9, Night Run"\n'
        b"csv-ana,trk-0002,2025-06-10T11:00:00Z,4,Caf\xe9,\n"
        b"csv-ana,trk-0003,2025-06-10T12:00:00Z,2,,\n"
    )
    listens, errors, _ = parse("csv", path)
    assert [(x["row"], x["title"]) for x in listens] == [(2, "Bus Route 9, Night Run"), (4, None)]
    assert listens[0]["timestamp"] == 1749542400000  # 08:00Z
    assert errors == [("line 3", "(row)", "not valid UTF-8")]


def test_seconds_more_than_the_length(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(
        "user,song,timestamp,action,seconds,total_seconds\nu,s,1749553200,listen,300,200\n"
    )
    assert parse("csv", path)[1] == [("line 2", "seconds", "300 is more than total_seconds 200")]
