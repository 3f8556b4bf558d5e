"""The Spotify Extended Streaming History parser: the mapping of a playback to listen, skip
or complete, podcasts left out, and bad input by JSON path and field. No services."""

from __future__ import annotations

import json

import pytest

from recsys.importers.spotify import action_of
from tests.recsys.importers_helpers import SAMPLES, file_error, parse


def test_sample_file():
    items = json.loads((SAMPLES / "spotify.json").read_text())
    listens, errors, context = parse("spotify", SAMPLES / "spotify.json", user="alice")
    assert errors == []
    assert dict(context.left_out) == {"podcast": 2}
    tracks = [(i, x) for i, x in enumerate(items) if x["spotify_track_uri"]]
    assert [x["row"] for x in listens] == [i for i, _ in tracks]
    for listen, (_, item) in zip(listens, tracks, strict=True):
        assert listen["user_id"] == "alice"
        assert listen["spotify_uri"] == listen["track_key"] == item["spotify_track_uri"]
        assert listen["seconds"] == item["ms_played"] // 1000
        assert listen["action"] == action_of(
            item["reason_end"], item["skipped"], item["ms_played"] // 1000, 30
        )
    assert {x["action"] for x in listens} == {"listen", "skip", "complete"}


@pytest.mark.parametrize(
    "reason_end, skipped, seconds, action",
    [
        ("trackdone", None, 12, "complete"),  # heard to its end, however short
        ("trackdone", True, 200, "complete"),
        ("fwdbtn", None, 200, "skip"),  # skipped forward, however long heard
        ("endplay", True, 95, "skip"),
        ("endplay", False, 95, "listen"),
        ("logout", None, 30, "listen"),
        ("logout", None, 29, "skip"),
    ],
)
def test_mapping(reason_end, skipped, seconds, action):
    assert action_of(reason_end, skipped, seconds, 30) == action


def test_listen_time_is_when_the_playback_started():
    listens, _, _ = parse("spotify", SAMPLES / "spotify.json", user="alice")
    item = json.loads((SAMPLES / "spotify.json").read_text())[0]
    assert item["ts"] == "2023-03-05T08:55:00Z"
    assert listens[0]["timestamp"] == 1678006500000 - item["ms_played"]


def test_a_listener_is_required():
    with pytest.raises(AssertionError):
        file_error("spotify", SAMPLES / "spotify.json")  # every row is an error, not the file
    _, errors, _ = parse("spotify", SAMPLES / "spotify.json")
    assert errors[0] == ("$[0]", "username", "the file names no listener: pass --user")


def test_bad_sample_names_item_and_field():
    listens, errors, _ = parse("spotify", SAMPLES / "spotify_bad.json", user="alice")
    assert [x["row"] for x in listens] == [0]
    assert errors == [
        ("$[1]", "ms_played", "-4000 is negative"),
        ("$[2]", "ts", "missing"),
        ("$[3]", "ts", "'05/03/2023 10:00' is not an ISO 8601 UTC time"),
        ("$[4]", "ms_played", "must be an integer (milliseconds)"),
        ("$[5]", "skipped", "must be true, false or null"),
    ]


def test_truncated_file(tmp_path):
    path = tmp_path / "Streaming_History_Audio_2023_0.json"
    text = (SAMPLES / "spotify.json").read_text()
    path.write_text(text[:2000])
    where, field, reason = file_error("spotify", path, user="alice")
    assert (field, reason) == ("(file)", f"truncated JSON: the file ends inside {where}")


def test_a_huge_item_is_refused_before_it_is_held(tmp_path):
    path = tmp_path / "huge.json"
    start = b'[{"ts": "2023-01-01T00:00:00Z", "ms_played": 1, "master_metadata_track_name": "'
    path.write_bytes(start + b"x" * 30_000_000 + b'"}]')
    where, field, reason = file_error("spotify", path, user="alice")
    assert (where, field) == ("$[0]", "(item)")
    assert reason.startswith("the item is longer than")


@pytest.mark.parametrize(
    "content, where, reason",
    [
        (b"", "line 1", "the file is empty"),
        (b'{"ts": "2023-01-01T00:00:00Z"}', "$", "must be a JSON array of listens"),
        (b"[1, 2", "$[2]", "truncated JSON: the file ends inside $[2]"),
    ],
)
def test_not_a_history(tmp_path, content, where, reason):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    got = file_error("spotify", path, user="alice")
    assert (got[0], got[2]) == (where, reason)
