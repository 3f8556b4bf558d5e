"""Reading and checking catalog files without a database: the samples, and every kind of bad
input, each named by line and field; over-long lines are skipped unread."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest

from recsys.catalog.files import CatalogFile, CatalogFileError
from recsys.catalog.rows import COLUMNS, validate_row
from tests.recsys.catalog_helpers import SAMPLE_BAD, SAMPLE_CSV, SAMPLE_JSONL

HEADER = "song_id,title,artist_id,artist,genres,duration_s"
GOOD = "x1,Kettle Song,a1,Fog Machine Choir,pop,187"


def problems(path, **options) -> dict[int, list[tuple[str, str]]]:
    """{line: [(field, reason)]} of every bad record (reading and validation)."""
    found = {}
    with CatalogFile(path, **options) as catalog:
        for record in catalog.records():
            errors = record.errors or validate_row(record.values)[1]
            if errors:
                found[record.line] = [(e.field, e.reason) for e in errors]
    return found


def songs(path, **options) -> list[dict]:
    with CatalogFile(path, **options) as catalog:
        return [validate_row(r.values)[0].model_dump() for r in catalog.records()]


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def file_error(path, **options) -> CatalogFileError:
    with pytest.raises(CatalogFileError) as caught, CatalogFile(path, **options) as catalog:
        list(catalog.records())
    return caught.value


def test_the_csv_and_json_lines_samples_hold_the_same_valid_catalog():
    from_csv, from_json = songs(SAMPLE_CSV), songs(SAMPLE_JSONL)
    assert len(from_csv) >= 30
    assert from_csv == from_json
    assert sum(1 for s in from_csv if s["lyrics"]) >= 10
    assert len({s["artist_id"] for s in from_csv}) >= 6
    assert "\n" in from_csv[0]["lyrics"]  # a quoted CSV value over several lines


def test_the_bad_sample_names_the_line_and_field_of_each_bad_row():
    assert problems(SAMPLE_BAD) == {
        3: [("duration_s", "must be a positive number of seconds")],
        4: [("duration_s", "must be a positive number of seconds")],
        5: [("release_date", "is not a date of the calendar")],
        7: [("title", "must not be empty")],
        8: [
            (
                "row",
                "has 12 values where the header has 11 columns (a value with a comma"
                " needs double quotes)",
            )
        ],
        9: [("title", "the line is not valid UTF-8 (byte 17)")],
        11: [("genres", "must name at least one genre")],
        14: [("duration_s", "must be a whole number of seconds")],
        15: [("image_url", "must be an http(s) URL or a path starting with /")],
        17: [("line", "a double quote opened in this row never closes")],
    }
    # lines 6 (a song id twice) and 10 (an artist renamed) are found across rows, by the store


def test_an_optional_column_a_row_lacks_is_not_given():
    song, errors = validate_row(
        {
            "song_id": "x",
            "title": "t",
            "artist_id": "a",
            "artist": "A",
            "genres": ["jazz", "x"],
            "duration_s": 100,
            "album": None,
            "lyrics": "",
        }
    )
    assert errors == [] and song.given == ["album", "lyrics"]
    assert song.genre == "jazz" and song.album is None and song.lyrics is None


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("song_id,title,artist", "missing columns: artist_id, genres, duration_s"),
        (
            HEADER + ",bpm,Mood",
            "unknown columns: bpm, Mood (the columns are " + ", ".join(COLUMNS) + ")",
        ),
        (HEADER + ",title", "repeated columns: title"),
        (
            HEADER.replace(",", ";"),
            "the columns are separated by ';'; catalog CSV files are comma-separated",
        ),
        (
            HEADER.replace(",", "\t"),
            "the columns are separated by tabs; catalog CSV files are comma-separated",
        ),
    ],
)
def test_a_bad_header_is_an_error_of_the_file(tmp_path, header, reason):
    path = write(tmp_path, "songs.csv", f"{header}\n{GOOD}\n")
    err = file_error(path)
    assert (err.line, err.field, err.reason) == (1, "header", reason)
    assert str(err) == f"{path}:1: header: {reason}"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", "", "is empty: no header and no rows"),
        ("blank.csv", "\n\n  \n", "is empty: no header and no rows"),
        ("header.csv", HEADER + "\n", "has a header but no rows"),
        ("empty.jsonl", "", "is empty: no catalog rows"),
        (
            "array.json",
            '[{"song_id": "x1"}]',
            "is a JSON array; catalog JSON files are JSON"
            " Lines, one object per line (convert with: jq -c '.[]' FILE)",
        ),
    ],
)
def test_empty_files_and_json_arrays_are_errors_of_the_file(tmp_path, name, content, reason):
    assert file_error(write(tmp_path, name, content)).reason == reason


def test_json_lines_rows_name_their_problems(tmp_path):
    good = (
        '{"song_id": "x1", "title": "Kettle Song", "artist_id": "a1", "artist": "Fog",'
        ' "genres": ["pop"], "duration_s": 187}'
    )
    lines = [
        good,
        "",
        good.replace('"duration_s": 187', '"duration_s": -1, "bpm": 120'),
        good.replace('"title": "Kettle Song", ', ""),
        '"just a string"',
        good[:57],  # a truncated line
        good.replace("Kettle", "Kettle \udcff")
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "surrogateescape"),
    ]
    path = tmp_path / "songs.jsonl"
    path.write_bytes(b"\n".join(line.encode("utf-8", "surrogateescape") for line in lines))
    found = problems(path)
    assert found[3] == [
        ("duration_s", "must be a positive number of seconds"),
        ("bpm", "unknown field"),
    ]
    assert found[4] == [("title", "missing field")]
    assert found[5] == [("line", "must be a JSON object")]
    assert found[6][0][0] == "line" and found[6][0][1].startswith("is not valid JSON (")
    assert found[7] == [("title", "the line is not valid UTF-8 (byte 36)")]
    assert set(found) == {3, 4, 5, 6, 7}


def test_a_100_mb_line_is_skipped_unread_and_the_next_rows_are_read(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.write(f"{HEADER}\n{GOOD}\n".encode())
        f.write(b"x2,Endless," + b"a" * 100_000_000 + b",A,pop,100\n")
        f.write(GOOD.replace("x1", "x3").encode() + b"\n")
    tracemalloc.start()
    try:
        with CatalogFile(path) as catalog:
            records = list(catalog.records())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.line for r in records] == [2, 3, 4]
    assert records[1].errors[0].as_dict() == {
        "field": "line",
        "reason": "the line is longer than 1048576 bytes (not read)",
    }
    assert len(records[1].raw) < 300
    assert records[2].values["song_id"] == "x3"
    assert peak < 8 * 2**20, f"reading held {peak / 2**20:.0f} MiB"


def test_an_unclosed_quote_stops_at_the_bound_and_reading_goes_on(tmp_path):
    body = f'{HEADER}\nx1,"Open Quote,a1,A,pop,100\n' + "la la la\n" * 300 + GOOD + "\n"
    path = write(tmp_path, "open.csv", body)
    with CatalogFile(path, max_record_bytes=1000) as catalog:
        records = list(catalog.records())
    assert records[0].line == 2
    assert records[0].errors[0].reason == (
        "a value is longer than 1000 bytes, or its opening double quote never closes"
    )
    assert [r.values["song_id"] for r in records if r.values] == ["x1"]


def test_bom_crlf_gzip_and_a_name_without_extension(tmp_path):
    content = "\ufeff" + f"{HEADER}\r\n{GOOD}\r\n"
    plain = write(tmp_path, "export", content)
    assert songs(plain)[0]["song_id"] == "x1"
    packed = tmp_path / "songs.csv.gz"
    packed.write_bytes(gzip.compress(content.encode()))
    with CatalogFile(packed) as catalog:
        assert catalog.format == "csv"
        assert [r.values["title"] for r in catalog.records()] == ["Kettle Song"]
    jsonl = write(tmp_path, "export2", '{"song_id": "x1"}\n')
    with CatalogFile(jsonl) as catalog:
        assert catalog.format == "jsonl"
