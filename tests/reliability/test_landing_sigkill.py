"""The landing job (spark_jobs/land_events.py under spark-submit, availableNow) SIGKILLed in
the middle of a micro-batch, then started again: the lake holds every event Kafka
acknowledged exactly once, by event_id.

Small batches (``--max-offsets-per-batch``) make the run many micro-batches long. The kill
comes while batch N is writing: its offsets are in the checkpoint, some of its Parquet files
are in the lake, and the file sink has not committed them. The restart replays batch N from
the checkpoint, and readers of the lake see only files the file sink committed, never the
killed batch's leftovers.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from recsys.lake import events_path, rejected_path
from recsysctl import simulator
from recsysctl.stack import kafka as kafka_service
from recsysctl.stack.spark_cluster import job_path
from spark_jobs.common import lake

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

EVENTS = 24_000
PER_BATCH = 3_000  # offsets per micro-batch: about 8 batches
KILL_AT_BATCH = 2  # wait for committed batches first, so the restart has state to resume


def synthetic_events(count: int, seed: int = 7) -> list[dict]:
    """Valid contract events over the last two days (the landing job checks the contract,
    not the catalog)."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    events = []
    for _ in range(count):
        total = rng.randint(60, 400)
        action = rng.choice(("listen", "skip", "complete"))
        events.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "user_id": f"u{rng.randrange(500)}",
                "track_id": f"s{rng.randrange(2000)}",
                "timestamp": now_ms - rng.randrange(2 * 86_400_000),
                "action": action,
                "duration": total if action == "complete" else rng.randint(0, total),
                "total_duration": total,
                "source": "simulation",
            }
        )
    return events


def _batch_ids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.glob("[0-9]*") if p.name.isdigit())


def _in_flight(checkpoint: Path) -> tuple[int, int] | None:
    """(batch planned, last batch committed) when a batch at or past KILL_AT_BATCH is planned
    and not committed yet."""
    offsets, commits = _batch_ids(checkpoint / "offsets"), _batch_ids(checkpoint / "commits")
    if not offsets or offsets[-1] < KILL_AT_BATCH:
        return None
    last_commit = commits[-1] if commits else -1
    return (offsets[-1], last_commit) if offsets[-1] > last_commit else None


def _files(lake_events: Path) -> tuple[set[str], set[str]]:
    """(data files on disk, data files the file sink's log committed), as file names."""
    on_disk = {p.name for p in lake_events.rglob("*.parquet")}
    committed: set[str] = set()
    if not lake_events.exists():
        return on_disk, committed
    for entry in (lake_events / "_spark_metadata").glob("[0-9]*"):
        if entry.name.endswith(".crc"):
            continue
        for line in entry.read_text().splitlines():
            if line.startswith("{"):
                committed.add(Path(json.loads(line)["path"]).name)
    return on_disk, committed


def _uncommitted(lake_events: Path) -> set[str]:
    on_disk, committed = _files(lake_events)
    return on_disk - committed


def test_landing_killed_mid_batch_lands_every_event_once(
    kafka, spark, spark_submit, settings, override_settings, tmp_path
):
    topic = f"land_sigkill_{uuid.uuid4().hex[:8]}"
    job_settings, env = override_settings(
        settings,
        kafka_topic=topic,
        lake_uri=str(tmp_path / "lake"),
        checkpoint_uri=str(tmp_path / "checkpoints"),
    )
    kafka_service.ensure_topic(job_settings)
    events = synthetic_events(EVENTS)
    acknowledged = simulator.send_history(job_settings, events, progress=False)
    assert acknowledged == EVENTS

    args = ["--max-offsets-per-batch", str(PER_BATCH)]
    checkpoint = tmp_path / "checkpoints" / "land_events"
    lake_events = Path(events_path(job_settings.lake_uri))
    first = spark_submit.start(job_path("land_events"), args, "local[2]", env)
    deadline = time.monotonic() + 150
    # Kill while a planned batch is writing its files: some on disk, not yet in the sink log.
    while not (_in_flight(checkpoint) and _uncommitted(lake_events)):
        assert first.poll() is None, f"landing ended before the kill; see {first.log_path}"
        assert time.monotonic() < deadline, "never caught a batch writing its files"
        time.sleep(0.01)
    spark_submit.kill(first)
    # What the checkpoint and the lake hold once the process is gone.
    state = _in_flight(checkpoint)
    assert state is not None, "the batch finished before the kill: nothing was in flight"
    planned, committed = state
    on_disk, in_log = _files(lake_events)
    kill_rows = lake.read_events(spark, job_settings.lake_uri).count()

    began = time.monotonic()
    spark_submit.run(job_path("land_events"), args, "local[2]", env, timeout_s=300)
    rerun_s = time.monotonic() - began

    landed = lake.read_events(spark, job_settings.lake_uri)
    counts = {r["event_id"]: r["count"] for r in landed.groupBy("event_id").count().collect()}
    sent = Counter(e["event_id"] for e in events)
    missing = [e for e in sent if e not in counts]
    duplicates = {e: n for e, n in counts.items() if n > 1}
    unknown = [e for e in counts if e not in sent]
    _, rejected_files = _files(Path(rejected_path(job_settings.lake_uri)))
    batches = _batch_ids(checkpoint / "commits")
    print(
        f"\nsent {EVENTS} events to {topic}, acknowledged {acknowledged}; "
        f"{PER_BATCH} offsets per batch\n"
        f"  SIGKILL while batch {planned} was in flight (last committed {committed}); "
        f"lake then showed {kill_rows} rows; files on disk {len(on_disk)}, committed "
        f"{len(in_log)}, left behind by the killed batch {len(on_disk - in_log)}\n"
        f"  restart landed the rest in {rerun_s:.0f} s; batches committed in all "
        f"{len(batches)} (last {batches[-1] if batches else None})\n"
        f"  lake: {sum(counts.values())} rows, {len(counts)} event ids, missing {len(missing)}, "
        f"duplicates {len(duplicates)}, unknown {len(unknown)}; "
        f"rejected files {len(rejected_files)}"
    )
    assert not missing, f"{len(missing)} acknowledged events never landed: {missing[:5]}"
    assert not duplicates, f"events landed more than once: {list(duplicates.items())[:5]}"
    assert not unknown and not rejected_files
    assert sum(counts.values()) == EVENTS
    assert landed.where(F.col("kafka_offset").isNull()).count() == 0
    # Each row is filed under its own event day.
    assert landed.where(F.to_date(F.timestamp_millis("timestamp")) != F.col("date")).count() == 0
