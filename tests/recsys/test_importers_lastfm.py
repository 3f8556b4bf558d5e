"""The Last.fm 1K-users TSV parser on the sample files and on every kind of bad input; each
error names the file's line and the field. No services."""

from __future__ import annotations

import tracemalloc

import pytest

from recsys.importers.listens import MAX_LINE_BYTES
from tests.recsys.importers_helpers import SAMPLES, file_error, parse

GOOD = "user_000001\t2009-05-04T23:08:57Z\t\tVelvet Abacus\t\tGravel and Sun"


def test_sample_file_every_line_is_a_scrobble():
    listens, errors, _ = parse("lastfm", SAMPLES / "lastfm.tsv")
    lines = (SAMPLES / "lastfm.tsv").read_text().splitlines()
    assert errors == []
    assert len(listens) == len(lines) == 43
    first = listens[0]
    user, when, _, artist, _, title = lines[0].split("\t")
    assert first["row"] == 1
    assert (first["user_id"], first["artist"], first["title"]) == (user, artist, title)
    assert first["timestamp"] == 1241129580000  # 2009-04-30T22:13:00Z
    # a scrobble is a play heard whole: its length comes from the catalog once matched
    assert {(x["action"], x["seconds"]) for x in listens} == {("listen", None)}
    with_mbid = [x for x in listens if x["recording_mbid"]]
    assert with_mbid and all(len(x["recording_mbid"]) == 36 for x in with_mbid)
    assert all(x["track_key"] is None for x in listens)  # the normalised names, later


def test_bad_sample_names_line_and_field():
    listens, errors, _ = parse("lastfm", SAMPLES / "lastfm_bad.tsv")
    assert [x["row"] for x in listens] == [1, 11]
    assert [(where, field) for where, field, _ in errors] == [
        ("line 2", "(row)"),
        ("line 3", "track MBID"),
        ("line 4", "timestamp"),
        ("line 5", "timestamp"),
        ("line 6", "timestamp"),
        ("line 7", "user"),
        ("line 8", "track"),
        ("line 9", "(row)"),
        ("line 10", "track"),
    ]
    reasons = dict(((where, reason) for where, _, reason in errors))
    assert "wrong delimiter" in reasons["line 2"]
    assert "4 of 6" in reasons["line 3"]
    assert "before 2000-01-01" in reasons["line 5"]
    assert "in the future" in reasons["line 6"]
    assert reasons["line 10"] == "not valid UTF-8"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tsv"
    path.write_bytes(b"")
    assert file_error("lastfm", path) == ("line 1", "(file)", "the file is empty")


def test_blank_lines_and_crlf_keep_the_line_numbers(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(
        f"{GOOD}\r\n\r\n\n{GOOD.replace('Gravel', 'Sand')}\r\nnot a scrobble\r\n".encode()
    )
    listens, errors, _ = parse("lastfm", path)
    assert [(x["row"], x["title"]) for x in listens] == [(1, "Gravel and Sun"), (4, "Sand and Sun")]
    assert [e[:2] for e in errors] == [("line 5", "(row)")]


def test_a_lone_carriage_return_in_a_name(tmp_path):
    """Arrow's reader would end a row at a lone CR: such a block is split on LF only."""
    path = tmp_path / "cr.tsv"
    with_cr = GOOD.replace("Gravel", "Gra\rvel")
    path.write_bytes(f"{GOOD}\n{with_cr}\n{GOOD}\n".encode())
    listens, errors, _ = parse("lastfm", path)
    assert errors == []
    assert [x["row"] for x in listens] == [1, 2, 3]
    assert listens[1]["title"] == "Gra\rvel and Sun"


def test_a_100_mb_line_is_refused_unread_and_the_next_lines_read(tmp_path):
    path = tmp_path / "long.tsv"
    with open(path, "wb") as f:
        f.write(f"{GOOD}\n".encode())
        f.write(b"user_000002\t" + b"x" * 100_000_000 + b"\n")
        f.write(f"{GOOD.replace('000001', '000003')}\n".encode())
    tracemalloc.start()
    listens, errors, _ = parse("lastfm", path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [x["user_id"] for x in listens] == ["user_000001", "user_000003"]
    assert errors == [
        ("line 2", "(row)", f"the line is longer than {MAX_LINE_BYTES:,} bytes: not read")
    ]
    assert peak < 20 * MAX_LINE_BYTES


@pytest.mark.parametrize(
    "line, field, reason",
    [
        ("u1\t2009-05-04T23:08:57\t\tA\t\tT", "timestamp", "is not an ISO 8601 UTC time"),
        ("u1\t2009-05-04T23:08:57+02:00\t\tA\t\tT", None, None),  # an offset is a time zone
        ("u1\t1970-01-01T00:00:00Z\t\tA\t\tT", "timestamp", "before 2000-01-01"),
        ("\t2009-05-04T23:08:57Z\t\tA\t\tT", "user", "must not be empty"),
        ("u\x00\t2009-05-04T23:08:57Z\t\tA\t\tT", "user", "NUL"),
        (f"{'u' * 65}\t2009-05-04T23:08:57Z\t\tA\t\tT", "user", "at most 64"),
        ("u1\t2009-05-04T23:08:57Z\t\t\t\tT", "artist", "must not be empty"),
        ("u1\t2009-05-04T23:08:57Z", "artist MBID", "2 of 6"),
    ],
)
def test_each_rule(tmp_path, line, field, reason):
    path = tmp_path / "one.tsv"
    path.write_text(line + "\n")
    listens, errors, _ = parse("lastfm", path)
    if field is None:
        assert errors == [] and listens[0]["timestamp"] == 1241471337000  # 21:08:57Z
        return
    assert listens == []
    [(where, got_field, got_reason)] = errors
    assert (where, got_field) == ("line 1", field)
    assert reason in got_reason
