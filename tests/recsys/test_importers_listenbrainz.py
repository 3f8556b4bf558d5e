"""The ListenBrainz export parser: JSON Lines and a JSON array, the sample files and bad input
(errors name the line or the JSON path, and the field). No services."""

from __future__ import annotations

import json

from tests.recsys.importers_helpers import SAMPLES, file_error, parse


def test_json_lines_sample():
    listens, errors, _ = parse("listenbrainz", SAMPLES / "listenbrainz.jsonl")
    raw = [json.loads(line) for line in (SAMPLES / "listenbrainz.jsonl").read_text().splitlines()]
    assert errors == []
    assert len(listens) == len(raw) == 30
    for listen, item in zip(listens, raw, strict=True):
        info = item["track_metadata"].get("additional_info", {})
        assert listen["timestamp"] == item["listened_at"] * 1000
        assert listen["user_id"] == item["user_name"]
        assert listen["title"] == item["track_metadata"]["track_name"]
        assert listen["recording_mbid"] == info.get("recording_mbid")
        expected_length = round(info["duration_ms"] / 1000) if "duration_ms" in info else None
        assert listen["total_seconds"] == expected_length
        assert (listen["action"], listen["seconds"]) == ("listen", None)  # a scrobble: a play
    assert [x["row"] for x in listens] == list(range(1, 31))


def test_json_array_export_overlaps_the_first():
    later, errors, _ = parse("listenbrainz", SAMPLES / "listenbrainz_later.json")
    first, _, _ = parse("listenbrainz", SAMPLES / "listenbrainz.jsonl")
    assert errors == [] and len(later) == 22
    assert [x["row"] for x in later] == list(range(22))  # JSON array indexes
    key = ("user_id", "timestamp", "artist", "title")
    assert [tuple(x[k] for k in key) for x in later[:12]] == [
        tuple(x[k] for k in key) for x in first[18:]
    ]


def test_user_option_names_the_listener():
    listens, _, _ = parse("listenbrainz", SAMPLES / "listenbrainz.jsonl", user="river")
    assert {x["user_id"] for x in listens} == {"river"}


def test_bad_sample_names_line_and_field():
    listens, errors, _ = parse("listenbrainz", SAMPLES / "listenbrainz_bad.jsonl")
    assert [x["row"] for x in listens] == [1, 9]
    assert [(where, field) for where, field, _ in errors] == [
        ("line 2", "listened_at"),
        ("line 3", "listened_at"),
        ("line 4", "track_metadata.track_name"),
        ("line 5", "track_metadata.additional_info.duration_ms"),
        ("line 6", "(row)"),
        ("line 7", "listened_at"),
        ("line 8", "user_name"),
    ]
    reasons = {where: reason for where, _, reason in errors}
    assert reasons["line 2"] == "must be an integer (epoch seconds)"
    assert reasons["line 5"] == "-254000 is negative"
    assert reasons["line 6"].startswith("invalid JSON")
    assert "before 2000-01-01" in reasons["line 7"]


def test_truncated_json_array(tmp_path):
    text = (SAMPLES / "listenbrainz_later.json").read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    where, field, reason = file_error("listenbrainz", path)
    assert field == "(file)" and reason == f"truncated JSON: the file ends inside {where}"
    assert where.startswith("$[")


def test_invalid_utf8_in_a_json_lines_file_names_the_field(tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = (SAMPLES / "listenbrainz.jsonl").read_bytes().splitlines()[0]
    bad = b'{"listened_at": 1704790800, "user_name": "r",'
    bad += b' "track_metadata": {"artist_name": "Caf\xe9"}}'
    path.write_bytes(good + b"\n" + bad + b"\n" + good + b"\n")
    listens, errors, _ = parse("listenbrainz", path)
    assert [x["row"] for x in listens] == [1, 3]
    assert errors == [("line 2", "artist_name", "not valid UTF-8")]


def test_invalid_utf8_in_a_json_array_names_the_item_and_field(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(
        b'[{"listened_at": 1704790800, "user_name": "r", "track_metadata":'
        b' {"artist_name": "A", "track_name": "T"}},'
        b' {"listened_at": 1704790900, "user_name": "r", "track_metadata":'
        b' {"artist_name": "Caf\xe9", "track_name": "T"}}]'
    )
    assert file_error("listenbrainz", path) == ("$[1]", "artist_name", "not valid UTF-8")


def test_not_an_array_of_listens(tmp_path):
    path = tmp_path / "object.json"
    path.write_text('  {"payload": {"listens": []}}')
    # an object is read as JSON Lines: one line, not a listen
    listens, errors, _ = parse("listenbrainz", path)
    assert listens == [] and errors == [("line 1", "user_name", "missing (or pass --user)")]
