"""The imported history's way into a lake folder: each event id once, ids already in either
dataset left out, files named by content, a killed run's leftovers removed and its commit
time reused. A temporary lake; no services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys.importers.history_lake import (
    LAKE_COLUMNS,
    SPILL_COLUMNS,
    ImportRun,
    Spill,
    Staged,
    event_days,
    publish,
    stage_month,
)
from recsys.lake import events_path, imported_events_path

COMMIT = dt.datetime(2026, 12, 1, 10, 5, tzinfo=dt.UTC)
DAY1, DAY2 = dt.date(2009, 5, 1), dt.date(2009, 5, 2)


def spill_rows(rows: list[tuple[str, int, dt.date]], same_key: bool = False) -> pa.Table:
    """(event id, file row, day) -> spilled listens (``same_key``: every id's 64-bit key
    the same, as if they all shared their first 64 bits)."""
    n = len(rows)
    return pa.Table.from_pydict(
        {
            "event_id": [r[0] for r in rows],
            "user_id": ["u1"] * n,
            "track_id": ["trk-1"] * n,
            "timestamp": [
                int(dt.datetime.combine(r[2], dt.time(), dt.UTC).timestamp() * 1000) for r in rows
            ],  # fmt: skip
            "action": ["listen"] * n,
            "duration": [200] * n,
            "total_duration": [200] * n,
            "row": [r[1] for r in rows],
            "id_key": [0 if same_key else hash(r[0]) for r in rows],
        },
        SPILL_COLUMNS,
    )


def imported(root: Path) -> dict[str, list]:
    """{file name: event ids} of the imported dataset."""
    folder = Path(imported_events_path(str(root)))
    return {
        f"{p.parent.name}/{p.name}": pq.read_table(p)["event_id"].to_pylist()
        for p in sorted(folder.glob("date=*/*.parquet"))
    }


def stage(root: Path, rows, key="k" * 64, same_key=False) -> Staged:
    """``rows`` spilled, staged and published as one import would."""
    staged = Staged()
    with ImportRun(root, "run") as run:
        spill = Spill(run.staging / "spill")
        spill.write(spill_rows(rows, same_key))
        for month in spill.close():
            rows = Spill.read_month([run.staging / "spill"], month)
            stage_month(rows, root, run.staging, key, COMMIT, staged)
        publish(staged)
    return staged


def test_each_id_once_first_row_kept_files_per_day(tmp_path):
    staged = stage(tmp_path, [("b", 1, DAY2), ("a", 2, DAY1), ("b", 3, DAY2), ("c", 4, DAY1)])
    assert (staged.duplicates, staged.duplicate_rows, staged.rows) == (1, [(3, 1)], 3)
    files = imported(tmp_path)
    assert sorted(files) == sorted(str(p).split("/", 0)[0] for p in files)
    assert {name.split("/")[0]: ids for name, ids in files.items()} == {
        "date=2009-05-01": ["a", "c"],
        "date=2009-05-02": ["b"],
    }
    table = pq.read_table(next(Path(imported_events_path(str(tmp_path))).glob("date=*/*")))
    assert table.schema.equals(LAKE_COLUMNS)
    assert set(table["kafka_timestamp"].to_pylist()) == {COMMIT}
    assert table["kafka_partition"].null_count == table.num_rows


@pytest.mark.parametrize("same_key", [False, True])
def test_repeats_are_found_by_the_whole_id(tmp_path, same_key):
    rows = [("a", 1, DAY1), ("b", 2, DAY2), ("a", 3, DAY1), ("c", 4, DAY1), ("b", 5, DAY2)]
    staged = stage(tmp_path, [*rows, ("a", 6, DAY1)], same_key=same_key)
    assert (staged.duplicates, staged.duplicate_rows, staged.rows) == (
        3,
        [(3, 1), (5, 2), (6, 1)],
        3,
    )
    assert {name.split("/")[0]: ids for name, ids in imported(tmp_path).items()} == {
        "date=2009-05-01": ["a", "c"],
        "date=2009-05-02": ["b"],
    }


def test_ids_in_either_dataset_are_left_out(tmp_path):
    landed = Path(events_path(str(tmp_path))) / "date=2009-05-01"
    landed.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["a"]}), landed / "part-0000.snappy.parquet")
    first = stage(tmp_path, [("a", 1, DAY1), ("b", 2, DAY1)])
    assert (first.already_imported, first.rows) == (1, 1)
    again = stage(tmp_path, [("a", 1, DAY1), ("b", 2, DAY1), ("c", 3, DAY2)], key="j" * 64)
    assert (again.already_imported, again.rows) == (2, 1)
    assert sorted(i for ids in imported(tmp_path).values() for i in ids) == ["b", "c"]


def test_a_killed_runs_leftovers_go_and_its_commit_time_stays(tmp_path):
    run = ImportRun(tmp_path, "run")
    with run:
        (run.staging / "spill").mkdir()
        (run.staging / "spill" / "2009-05.arrows").write_bytes(b"half a file")
        run.write_manifest("key", {"committed_at": COMMIT.isoformat(), "state": "publishing"})
    leftover = run.staging / "days"
    leftover.mkdir(parents=True)  # as a kill -9 leaves it: __exit__ never ran
    with ImportRun(tmp_path, "run") as again:
        assert list(again.staging.iterdir()) == []
        assert again.commit_time("key") == COMMIT
        again.write_manifest("key", {"committed_at": COMMIT.isoformat(), "state": "published"})
        assert again.commit_time("key") > COMMIT  # a finished import's re-run is a new one


def test_the_same_import_twice_at_once_is_refused(tmp_path):
    with ImportRun(tmp_path, "run"), pytest.raises(RuntimeError, match="running already"):
        ImportRun(tmp_path, "run").__enter__()


def test_spill_reads_a_months_days_back_in_file_order(tmp_path):
    parts = [tmp_path / "part-0", tmp_path / "part-1"]
    first_part = [("a", 1, DAY2), ("b", 2, DAY1), ("c", 3, DAY2)]
    for folder, rows in zip(parts, [first_part, [("d", 4, DAY1), ("e", 5, DAY2)]], strict=True):
        spill = Spill(folder)
        spill.write(spill_rows(rows[:2]))
        spill.write(spill_rows(rows[2:]))
        assert spill.close() == ["2009-05"]
    rows = Spill.read_month(parts, "2009-05")
    # the writes and the parts in file order: sorted by day stably, each day's rows are
    # in file order
    assert rows["event_id"].to_pylist() == ["a", "b", "c", "d", "e"]
    by_day = rows.take(pa.array(np.argsort(event_days(rows), kind="stable")))
    assert by_day["event_id"].to_pylist() == ["b", "d", "a", "c", "e"]


def test_spill_splits_a_write_by_month_keeping_file_order(tmp_path):
    april, june = dt.date(2009, 4, 30), dt.date(2009, 6, 1)
    rows = [("a", 1, DAY2), ("b", 2, april), ("c", 3, june), ("d", 4, DAY1), ("e", 5, april)]
    spill = Spill(tmp_path)
    spill.write(spill_rows(rows))
    spilled = spill.close()
    assert spilled == ["2009-04", "2009-05", "2009-06"]
    months = {m: Spill.read_month([tmp_path], m)["event_id"].to_pylist() for m in spilled}
    assert months == {"2009-04": ["b", "e"], "2009-05": ["a", "d"], "2009-06": ["c"]}


def test_a_staged_months_spill_is_removed(tmp_path):
    spill = Spill(tmp_path / "spill")
    spill.write(spill_rows([("a", 1, DAY1), ("b", 2, dt.date(2009, 6, 1))]))
    assert spill.close() == ["2009-05", "2009-06"]
    Spill.remove_month([tmp_path / "spill"], "2009-05")
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == ["2009-06.arrows"]
