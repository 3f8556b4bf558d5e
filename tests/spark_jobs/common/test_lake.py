"""read_events: the landed and the imported datasets read as one, the importer's bookkeeping
folders never read, and a lake without imports (or without anything) read as before."""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from recsys.importers.history_lake import (
    SPILL_COLUMNS,
    ImportRun,
    Spill,
    Staged,
    publish,
    stage_month,
)
from recsys.lake import events_path, imported_events_path
from spark_jobs.common import lake
from tests.spark_jobs.conftest import DAY, lake_row

pytestmark = pytest.mark.integration

COMMIT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def import_rows(root: Path, event_ids: list[str]) -> None:
    """``event_ids`` as an import writes them (listens of s9 on DAY by u9)."""
    n = len(event_ids)
    ts = int(dt.datetime.combine(DAY, dt.time(8), dt.UTC).timestamp() * 1000)
    table = pa.Table.from_pydict(
        {
            "event_id": event_ids,
            "user_id": ["u9"] * n,
            "track_id": ["s9"] * n,
            "timestamp": [ts] * n,
            "action": ["listen"] * n,
            "duration": [200] * n,
            "total_duration": [200] * n,
            "row": list(range(1, n + 1)),
            "id_key": list(range(n)),
        },
        SPILL_COLUMNS,
    )
    staged = Staged()
    with ImportRun(root, "run") as run:
        spill = Spill(run.staging / "spill")
        spill.write(table)
        for month in spill.close():
            stage_month(
                Spill.read_month([run.staging / "spill"], month),
                root,
                run.staging,
                "k" * 64,
                COMMIT,
                staged,
            )
        publish(staged)
        run.write_manifest("k" * 64, {"state": "published"})


def test_landed_and_imported_events_are_one_dataset(spark, tmp_path):
    landed = [lake_row("e1", "u1", "s1", "listen", 30, 1), lake_row("e2", "u2", "s1", "skip", 4, 2)]
    spark.createDataFrame(landed, lake.LAKE_SCHEMA).write.partitionBy("date").parquet(
        events_path(str(tmp_path))
    )
    import_rows(tmp_path, ["i1", "i2"])
    # a killed import's leftovers: never read
    junk = Path(imported_events_path(str(tmp_path))) / "_staging" / "old" / "days"
    junk.mkdir(parents=True)
    (junk / "2026-03-01.parquet").write_bytes(b"not parquet")

    rows = {r.event_id: r for r in lake.read_events(spark, str(tmp_path)).collect()}
    assert sorted(rows) == ["e1", "e2", "i1", "i2"]
    imported = rows["i1"]
    assert (imported.kafka_partition, imported.kafka_offset, imported.date) == (None, None, DAY)
    assert imported.kafka_timestamp.replace(tzinfo=dt.UTC) == COMMIT
    assert (imported.track_id, imported.duration, imported.source) == ("s9", 200, "real_user")


def test_a_lake_without_imports_or_without_anything(spark, tmp_path):
    assert lake.read_events(spark, str(tmp_path)).count() == 0
    import_rows(tmp_path, ["i1"])
    assert [r.event_id for r in lake.read_events(spark, str(tmp_path)).collect()] == ["i1"]
    bookkeeping_only = tmp_path / "other"
    (Path(imported_events_path(str(bookkeeping_only))) / "_imports").mkdir(parents=True)
    spark.createDataFrame(
        [lake_row("e1", "u1", "s1", "listen", 30, 1)], lake.LAKE_SCHEMA
    ).write.partitionBy("date").parquet(events_path(str(bookkeeping_only)))
    assert [r.event_id for r in lake.read_events(spark, str(bookkeeping_only)).collect()] == ["e1"]
